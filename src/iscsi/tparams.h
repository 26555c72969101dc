/*
 * tparams.h - a target's own iSCSI parameters (tgt's per-target session
 * parameters, `tgtadm --mode target --op update --name K --value V`):
 * which keys exist, which values ringtgt can honour, how a target's
 * overrides change the target's side of the negotiation, and tgt's list
 * of them. Pure: no I/O, no locks; the overrides themselves are carried
 * by the core (core_target_param_set()).
 */
#ifndef RINGTGT_TPARAMS_H
#define RINGTGT_TPARAMS_H

#include <stddef.h>

#include "core/core.h"
#include "iscsi.h"
#include "text.h"

/*
 * Checks @name (any case, as tgt takes it) = @value and puts the
 * canonical spelling in @out ("CRC32C", "Yes", decimal numbers). @value
 * NULL checks the name only. 0; -ENOENT: no such key; -EINVAL: a value
 * outside the key's syntax or range (RFC 7143 §13); -EOPNOTSUPP: a value
 * ringtgt cannot honour. A sentence naming key and value in @why.
 */
int tparam_check(const char *name, const char *value, struct core_param *out,
		 char *why, size_t whylen);

/* The portal-wide target side of each key, from the daemon's settings. */
void tparams_base(const struct iscsi_settings *s, struct iscsi_limits *l);

/* Applies @n overrides (checked by tparam_check()) to @l. */
void tparams_apply(struct iscsi_limits *l, const struct core_param *over,
		   size_t n);

/*
 * Calls @fn for every key of tgt's list, in tgt's order, with the value
 * a login to a target with the @n overrides @over starts from.
 */
void tparams_list(const struct iscsi_settings *s,
		  const struct core_param *over, size_t n,
		  void (*fn)(void *ctx, const char *name, const char *value),
		  void *ctx);

#endif
