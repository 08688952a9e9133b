/* lua_sched.h — the scheduler's internals, shared by lua_engine.c (the
 * per-state box), lua_wait.c (wait records), lua_task.c (tasks) and
 * lua_loop.c (the loop drivers). Nothing outside these four files includes
 * it: the rest of the binding talks to them through binding.h.
 *
 * Ownership in one paragraph: a lua_State has one lira_sched, living inside
 * a full userdata in its registry (so lua_close frees it, and its __gc frees
 * an engine it created). Tasks are full userdata pinned by a registry ref
 * while unfinished. Wait records are C memory (malloc, pooled per sched)
 * because the engine holds them across Lua errors; each one lives until
 * both the operation completed it and its reader took (or gave up) the
 * results. */
#ifndef LIRA_LUA_SCHED_H
#define LIRA_LUA_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "binding.h"

typedef struct lira_task lira_task;
typedef struct lira_sched lira_sched;

enum lira_task_state {
    LIRA_TASK_READY,      /* queued to run (or to start) */
    LIRA_TASK_RUNNING,    /* being resumed by the scheduler right now */
    LIRA_TASK_WAITING,    /* yielded inside lira_wait_finish */
    LIRA_TASK_DONE,       /* fn returned */
    LIRA_TASK_FAILED,     /* fn raised */
    LIRA_TASK_CANCELLED   /* cancel() came before it finished (outcome kept) */
};

typedef struct lira_join lira_join;

struct lira_task {
    lira_sched *s;
    lua_State *co;             /* its coroutine; NULL once dropped after a failure */
    int ref;                   /* registry pin while unfinished, else LUA_NOREF */
    int state;                 /* enum lira_task_state */
    int nargs;                 /* arguments waiting on co for the first resume */
    int nres;                  /* results left on co's stack when it returned */
    unsigned char started, cancelled, in_run, ok, joined, reported, queued;
    lira_wait *wait;           /* the wait it is blocked in (yielded or driving) */
    lira_task *rprev, *rnext;  /* ready queue */
    lira_task *aprev, *anext;  /* s->tasks: every unfinished task */
    lira_join *joiners;        /* waits of tasks/threads joining this one */
    uint64_t id;
};

struct lira_wait {
    lira_sched *s;             /* NULL: orphaned (its state closed before the op ended) */
    lira_task *owner;          /* task on whose behalf it waits, or NULL (main thread) */
    lira_wait *prev, *next;    /* s->waits: every live record */
    lira_wait_push_fn push;
    lira_wait_free_fn free_data;
    void *data;
    lira_wait_cancel_fn cancel_op;
    void *op;
    lira_timer timer;          /* used by sleep: no allocation per sleep */
    unsigned char completed;   /* the operation is over (push/free/data are set) */
    unsigned char reader_gone; /* nobody will push the results: free on completion */
    unsigned char yielded;     /* the owner yielded on it (wake it on completion) */
};

struct lira_sched {
    lua_State *L;              /* the state's main thread */
    lira_engine *e;
    int owned;                 /* e was created here; freed by the box's __gc */
    int closed;
    lira_task *rhead, *rtail;  /* ready queue, FIFO */
    lira_task *tasks;          /* unfinished tasks */
    size_t nready;
    lira_task *current;        /* the task being resumed (innermost), or NULL */
    lira_wait *waits;          /* live records */
    lira_wait *pool;           /* released records, reused (singly linked by next) */
    size_t npool;
    size_t live;               /* unfinished tasks */
    size_t run_live;           /* unfinished tasks spawned during run() */
    int run_active;
    uint64_t next_id;
};

/* ---------------------------------------------------- lua_engine.c */

/* This state's scheduler, created on first use (raises on ENOMEM). The
 * engine may not exist yet: lira_lua_engine() creates it. */
lira_sched *lira_sched_get(lua_State *L);

/* The scheduler if it exists, else NULL; never raises, never allocates. */
lira_sched *lira_sched_peek(lua_State *L);

/* core._reset_engine and core._use_virtual_clock (internal test hooks). */
void lira_engine_open_hooks(lua_State *L, int mod);

/* ---------------------------------------------------- lua_wait.c */

/* Error metatable (mod.Error), sleep and now on the module table. */
void lira_wait_open(lua_State *L, int mod);

/* task:cancel() reached a task blocked in w: abort the operation through its
 * cancel_op (its results then say "cancelled"), or, without one, wake the
 * task so that the wait returns nil, err at once. */
void lira_wait_cancel(lira_wait *w);

/* Give up on w: abort it through its cancel_op when it has one, and free it
 * once the operation is over. Never raises. */
void lira_wait_abandon(lira_wait *w);

/* The state is closing: abort every live record (before the engine goes). */
void lira_sched_close_waits(lira_sched *s);
void lira_sched_free_waits(lira_sched *s, int orphan_pending);

/* ---------------------------------------------------- lua_task.c */

/* Make t ready (FIFO). Harmless when already queued. */
void lira_task_enqueue(lira_sched *s, lira_task *t);

/* Resume the tasks that were ready on entry, in FIFO order. */
int lira_sched_run_batch(lua_State *L, lira_sched *s);

/* The task whose own coroutine is L and which may yield right now, or NULL. */
lira_task *lira_task_yieldable(lua_State *L, lira_sched *s);

/* Push a new task running the function below the `nargs` values on top of
 * L (all popped); the task's userdata is left on top. */
lira_task *lira_task_spawn(lua_State *L, lira_sched *s, int nargs);

int lira_task_finished(const lira_task *t);

/* Push `true, results...` or `false, err[, traceback]` of finished task t,
 * whose userdata is at index ud; marks it joined. */
int lira_task_push_outcome(lua_State *L, lira_task *t, int ud);

/* Cancel every unfinished task spawned during the current run(). */
void lira_task_cancel_run(lua_State *L, lira_sched *s);

/* sleep(0): yield to the other ready tasks (in a task), or let them run once
 * (anywhere else). Returns true, or nil, err when the task was cancelled. */
int lira_sleep_zero(lua_State *L, lira_sched *s);

/* ---------------------------------------------------- lua_loop.c */

/* Drive the loop from L until done(ud) is true: resume ready tasks, poll the
 * engine, block in lira_engine_step only when no task is ready. Returns
 * LIRA_OK, LIRA_ESTATE when nothing pending could make done() true (a
 * deadlock), or the engine's error. Never resumes L itself. */
int lira_sched_drive(lua_State *L, lira_sched *s, int (*done)(void *ud), void *ud);

/* Raise the deadlock error for a waiter on L (`what` says what it waits for). */
int lira_sched_deadlock(lua_State *L, lira_sched *s, const char *what);

/* Poll the engine once without blocking and without moving a virtual clock
 * (tasks are ready at the current time). */
void lira_sched_poll_nowait(lira_sched *s);

void lira_loop_open(lua_State *L, int mod);

#endif
