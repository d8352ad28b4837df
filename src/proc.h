/*
 * proc.h -- what every process kind that serves no requests does first
 * (the maintenance process, the checker, the evaluator).
 *
 * Owns: one copy of the child's start: its log tag, the listening
 * socket closed, signal dispositions (stop on TERM, INT and QUIT
 * through the caller's flag-setting handler; HUP and PIPE ignored;
 * nothing blocked) and the parent-death signal.
 * Never: do anything but set flags in a handler.
 */
#ifndef DASHCGI_PROC_H
#define DASHCGI_PROC_H

/* Exits 0 at once when the master is already gone. */
void	proc_child_init(const char *tag, int lfd, void (*on_stop)(int));

#endif
