/*
 * system.c - the daemon-wide state tgt calls the system state: ready, or
 * offline while an administrator (Debian's tgt.service between start and
 * the configuration being loaded, or before a stop) wants no new
 * connections. tgt 1.0.85 checks it when it accepts a connection
 * (usr/iscsi/iscsi_tcp.c: accepted and closed at once) and nowhere else,
 * so sessions already logged in keep working; the portals do the same
 * here (iscsi/server.c).
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "base/log.h"
#include "core.h"

static atomic_int core_sys_state = CORE_SYSTEM_READY;

enum core_system_state core_system_state(void)
{
	return (enum core_system_state)atomic_load_explicit(
		&core_sys_state, memory_order_relaxed);
}

void core_system_set_state(enum core_system_state st)
{
	if (atomic_exchange(&core_sys_state, st) != (int)st)
		log_info("system state: %s%s", core_system_state_name(st),
			 st == CORE_SYSTEM_OFFLINE ?
			 " (new connections are refused)" : "");
}

const char *core_system_state_name(enum core_system_state st)
{
	return st == CORE_SYSTEM_OFFLINE ? "offline" : "ready";
}

int core_system_state_parse(const char *s, enum core_system_state *out)
{
	if (strcmp(s, "ready") == 0)
		*out = CORE_SYSTEM_READY;
	else if (strcmp(s, "offline") == 0)
		*out = CORE_SYSTEM_OFFLINE;
	else
		return -EINVAL;
	return 0;
}
