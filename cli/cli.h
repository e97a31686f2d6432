/* cli.h -- the subcommands of the switchyard binary.
 *
 * Each subcommand is one file in cli/ with one entry point; main.c picks it
 * by name. Every subcommand accepts --help, prints its usage to stdout and
 * returns 0; a usage error prints the usage to stderr and returns 2. */
#ifndef SY_CLI_H
#define SY_CLI_H

#include "signals.h" /* the long-running ones install the stop signals */

int cmd_broker(int argc, char **argv);
int cmd_scheduler(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_results(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_topics(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_prompts(int argc, char **argv);

#endif
