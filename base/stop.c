/* stop.c -- the process's stop request (see stop.h). */
#include "stop.h"

volatile sig_atomic_t sy_stop_requested = 0;
volatile sig_atomic_t sy_reload_requested;
