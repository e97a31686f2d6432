/* broker_port.h -- `switchyard broker --port N`: a fixed bootstrap port.
 *
 * librdkafka's mock cluster listens on random ports and offers no way to
 * choose one. So the broker also listens on 127.0.0.1:N and relays every
 * connection made there to the mock cluster's bootstrap address, byte for
 * byte. A client bootstraps on N; the metadata it gets back names the
 * cluster's own (random) port on 127.0.0.1, which it then uses directly. */
#ifndef SY_CLI_BROKER_PORT_H
#define SY_CLI_BROKER_PORT_H

#include <stddef.h>

/* Listen on 127.0.0.1:port and relay to target ("127.0.0.1:P") from a
 * thread of its own. 0, or -1 with the reason in err. */
int broker_port_start(int port, const char *target, char *err, size_t errlen);

#endif
