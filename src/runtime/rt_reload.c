/* rt_reload.c — hot reload: inotify on the folders of the loaded files
 * (so editors' atomic saves, which rename a new file over the old one, and
 * new or removed files are all seen), and SIGHUP.
 *
 * Events only arm a short debounce timer; when it fires the paths given on
 * the command line are scanned again and each file's content hash is
 * compared with the version running: a changed file is loaded into a new
 * state (rt_load_file keeps the old one when the new fails), a new file
 * starts an integration, a missing one stops its integration. A change to
 * any other .lua file under a watched folder (a local module an integration
 * requires) reloads every integration. Events that arrive while a reload
 * runs wait in the inotify queue and cause one more reload. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"
#include "engine/log.h"
#include "runtime/runtime.h"

#define DEBOUNCE_NS 30000000LL   /* 30 ms: a burst of saves is one reload */
#define MAX_DEPTH 3

typedef struct watch_tab {
    int *wd;
    char **dir;
    size_t n;
} watch_tab;

static void add_watch(rt *r, const char *dir, int depth)
{
    watch_tab *w = r->watches;
    int wd = inotify_add_watch(r->inofd, dir,
                               IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                   IN_DELETE | IN_DELETE_SELF | IN_ATTRIB);
    if (wd < 0)
        return;
    int known = 0;
    for (size_t i = 0; i < w->n; i++)
        if (w->wd[i] == wd)
            known = 1;
    if (!known) {
        int *nwd = realloc(w->wd, (w->n + 1) * sizeof *nwd);
        if (nwd)
            w->wd = nwd;
        char **nd = realloc(w->dir, (w->n + 1) * sizeof *nd);
        if (nd)
            w->dir = nd;
        if (!nwd || !nd || !(w->dir[w->n] = strdup(dir)))
            return;
        w->wd[w->n++] = wd;
    }
    if (depth >= MAX_DEPTH)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            add_watch(r, p, depth + 1);
    }
    closedir(d);
}

static const char *dir_of(rt *r, int wd)
{
    watch_tab *w = r->watches;
    for (size_t i = 0; i < w->n; i++)
        if (w->wd[i] == wd)
            return w->dir[i];
    return NULL;
}

static int is_loaded_file(rt *r, const char *path)
{
    for (size_t i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i], path) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------ rescans */

/* Whether file's content is what already runs, or what already failed. */
static int unchanged(rt *r, const char *file, const char *hash)
{
    rt_integ *in = rt_find_file(r, file);
    if (in && in->cur && strcmp(in->cur->hash, hash) == 0)
        return 1;
    if (in && strcmp(in->failed_hash, hash) == 0)
        return 1;
    for (rt_broken *b = r->broken; b; b = b->next)
        if (strcmp(b->file, file) == 0 && strcmp(b->hash, hash) == 0)
            return 1;
    return 0;
}

static void rescan(rt *r, int all)
{
    char err[1024];
    char **files = NULL;
    size_t n = 0;
    if (rt_collect_files(r->o.paths, r->o.npaths, &files, &n, err, sizeof err) != LIRA_OK) {
        rt_log(r, LIRA_LOG_ERROR, "reload: cannot read the integration paths", NULL, "error",
               err, NULL, NULL);
        return;
    }
    for (size_t i = 0; i < r->nfiles; i++) {
        int still = 0;
        for (size_t j = 0; j < n; j++)
            still |= strcmp(files[j], r->files[i]) == 0;
        if (!still)
            rt_unload_file(r, r->files[i]);
    }
    for (size_t j = 0; j < n; j++) {
        char hash[17];
        rt_hash_file(files[j], hash);
        if (!all && unchanged(r, files[j], hash))
            continue;
        rt_load_file(r, files[j]);
    }
    rt_free_files(r->files, r->nfiles);
    r->files = files;
    r->nfiles = n;
    for (size_t j = 0; j < n; j++) {
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s", files[j]);
        char *s = strrchr(d, '/');
        if (s && s != d) {
            *s = '\0';
            add_watch(r, d, MAX_DEPTH);
        }
    }
}

static void on_reload_due(lira_timer *t, void *ud)
{
    (void)t;
    rt *r = ud;
    if (r->phase != 0)
        return;
    int all = r->reload_pending;
    r->reload_pending = 0;
    rescan(r, all);
}

static void arm(rt *r)
{
    lira_timer_start(r->e, &r->reload_timer, lira_engine_now(r->e) + DEBOUNCE_NS,
                     on_reload_due, r);
}

void rt_reload_all(rt *r)
{
    rt_log(r, LIRA_LOG_INFO, "reload: SIGHUP, reloading every integration", NULL, NULL, NULL,
           NULL, NULL);
    r->reload_pending = 1;
    lira_timer_start(r->e, &r->reload_timer, lira_engine_now(r->e), on_reload_due, r);
}

static void on_inotify(int fd, int events, void *ud)
{
    (void)events;
    rt *r = ud;
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    int relevant = 0;
    for (;;) {
        ssize_t len = read(fd, buf, sizeof buf);
        if (len <= 0)
            break;
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            const char *dir = dir_of(r, ev->wd);
            if (!dir || ev->len == 0 || ev->name[0] == '.')
                continue;
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", dir, ev->name);
            if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO))) {
                add_watch(r, path, MAX_DEPTH - 1);
                relevant = 1;
                continue;
            }
            size_t nl = strlen(ev->name);
            int lua = nl > 4 && strcmp(ev->name + nl - 4, ".lua") == 0;
            if (!lua && !(ev->mask & IN_ISDIR))
                continue;
            relevant = 1;
            /* A module beside the integrations changed: reload them all. */
            if (lua && !is_loaded_file(r, path) && strcmp(ev->name, "init.lua") != 0 &&
                strcmp(dir, "") != 0) {
                int top = 0;
                for (int i = 0; i < r->o.npaths; i++) {
                    char real[PATH_MAX];
                    if (realpath(r->o.paths[i], real) && strcmp(real, dir) == 0)
                        top = 1;
                }
                if (!top)
                    r->reload_pending = 1;
            }
        }
    }
    if (relevant)
        arm(r);
}

int rt_reload_init(rt *r)
{
    lira_timer_init(&r->reload_timer);
    if (r->o.no_reload)
        return LIRA_OK;
    r->watches = calloc(1, sizeof(watch_tab));
    if (!r->watches)
        return LIRA_ENOMEM;
    r->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (r->inofd < 0)
        return LIRA_ESTATE;
    for (int i = 0; i < r->o.npaths; i++) {
        char real[PATH_MAX];
        struct stat st;
        if (!realpath(r->o.paths[i], real) || stat(real, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            add_watch(r, real, 0);
        } else {
            char *s = strrchr(real, '/');
            if (s && s != real)
                *s = '\0';
            add_watch(r, real, MAX_DEPTH);
        }
    }
    return lira_engine_watch(r->e, r->inofd, LIRA_IO_READ, on_inotify, r);
}

void rt_reload_free(rt *r)
{
    if (r->e)
        lira_timer_stop(r->e, &r->reload_timer);
    if (r->inofd > 0) {
        lira_engine_watch(r->e, r->inofd, 0, NULL, NULL);
        close(r->inofd);
        r->inofd = -1;
    }
    watch_tab *w = r->watches;
    if (w) {
        for (size_t i = 0; i < w->n; i++)
            free(w->dir[i]);
        free(w->wd);
        free(w->dir);
        free(w);
        r->watches = NULL;
    }
}
