/*
 * list.h - intrusive doubly linked list (circular, with a head node).
 */
#ifndef RINGTGT_LIST_H
#define RINGTGT_LIST_H

#include <stdbool.h>
#include "base.h"

struct list_head {
	struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name) { &(name), &(name) }

static inline void list_init(struct list_head *h)
{
	h->next = h->prev = h;
}

static inline bool list_empty(const struct list_head *h)
{
	return h->next == h;
}

static inline void list_add_tail(struct list_head *n, struct list_head *h)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void list_add(struct list_head *n, struct list_head *h)
{
	n->next = h->next;
	n->prev = h;
	h->next->prev = n;
	h->next = n;
}

/* Unlinks @n and leaves it pointing at itself, so a second del is harmless. */
static inline void list_del(struct list_head *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

/* Moves every node of @list to the tail of @h, in order; @list ends empty. */
static inline void list_splice_tail(struct list_head *list, struct list_head *h)
{
	if (list_empty(list))
		return;
	list->next->prev = h->prev;
	h->prev->next = list->next;
	list->prev->next = h;
	h->prev = list->prev;
	list_init(list);
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(h, type, member) list_entry((h)->next, type, member)

#define list_for_each_entry(pos, h, member)                                  \
	for (pos = list_entry((h)->next, __typeof__(*pos), member);          \
	     &pos->member != (h);                                            \
	     pos = list_entry(pos->member.next, __typeof__(*pos), member))

#define list_for_each_entry_safe(pos, n, h, member)                          \
	for (pos = list_entry((h)->next, __typeof__(*pos), member),          \
	     n = list_entry(pos->member.next, __typeof__(*pos), member);     \
	     &pos->member != (h);                                            \
	     pos = n, n = list_entry(n->member.next, __typeof__(*n), member))

#endif
