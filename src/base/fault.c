/* fault.c - the counters behind fault.h. */
#include "base/fault.h"

_Atomic int fault_armed[FAULT_SITE_COUNT];
