/* rt_reload.c — hot reload: inotify on the folders of the loaded files
 * (so editors' atomic saves, which rename a new file over the old one, and
 * new or removed files are all seen), and SIGHUP.
 *
 * Events only arm a short debounce timer; when it fires the paths given on
 * the command line are scanned again and each file's content hash is
 * compared with the version running: a changed file is loaded into a new
 * state (rt_load_file keeps the old one when the new fails), a new file
 * starts an integration, a missing one stops its integration. A change to
 * any other .lua file under a watched folder is a change to a local module:
 * it reloads exactly the integrations whose state `require`d that file
 * (rt_modules.h), and retries the files that failed to load. Events that
 * arrive while a reload runs wait in the inotify queue and cause one more
 * reload. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"
#include "engine/log.h"
#include "runtime/rt_modules.h"
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
static int unchanged(rt *r, rt_integ *in, const char *file, const char *hash)
{
    if (in && in->cur && strcmp(in->cur->hash, hash) == 0)
        return 1;
    if (in && strcmp(in->failed_hash, hash) == 0)
        return 1;
    for (rt_broken *b = r->broken; b; b = b->next)
        if (strcmp(b->file, file) == 0 && strcmp(b->hash, hash) == 0)
            return 1;
    return 0;
}

/* Remember a changed local module until the next rescan. */
static void mark_module(rt *r, const char *path)
{
    for (size_t i = 0; i < r->ndirty; i++)
        if (strcmp(r->dirty[i], path) == 0)
            return;
    char **nd = realloc(r->dirty, (r->ndirty + 1) * sizeof *nd);
    if (!nd)
        return;
    r->dirty = nd;
    if ((nd[r->ndirty] = strdup(path)) != NULL)
        r->ndirty++;
}

static void clear_modules(rt *r)
{
    rt_free_files(r->dirty, r->ndirty);
    r->dirty = NULL;
    r->ndirty = 0;
}

/* Whether file must load again because a module it uses changed (or, when
 * it failed to load, because any module did: it may have been the cause). */
static int module_changed(rt *r, rt_integ *in)
{
    if (r->ndirty == 0)
        return 0;
    if (!in || !in->cur)
        return 1;
    for (size_t i = 0; i < r->ndirty; i++)
        if (rt_version_uses(in->cur, r->dirty[i]))
            return 1;
    return 0;
}

static void watch_module(void *ud, const char *path)
{
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", path);
    char *s = strrchr(d, '/');
    if (s && s != d) {
        *s = '\0';
        add_watch(ud, d, MAX_DEPTH);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_integ(const void *a, const void *b)
{
    return strcmp((*(rt_integ *const *)a)->file, (*(rt_integ *const *)b)->file);
}

static rt_integ *find_sorted(rt_integ **tab, size_t n, const char *file)
{
    rt_integ key = {.file = (char *)(uintptr_t)file}, *kp = &key;
    rt_integ **hit = n ? bsearch(&kp, tab, n, sizeof *tab, cmp_integ) : NULL;
    return hit ? *hit : NULL;
}

/* Which of files must load: every one (SIGHUP), or those whose content or
 * local modules changed. Decided before any load (a load may free another
 * integration); lookups are sorted (a thousand files would be a million
 * string compares otherwise). */
static unsigned char *due_loads(rt *r, char **files, size_t n, int all)
{
    unsigned char *due = calloc(n ? n : 1, 1);
    size_t ni = 0;
    for (rt_integ *in = r->integs; in; in = in->next)
        ni++;
    rt_integ **tab = malloc((ni ? ni : 1) * sizeof *tab);
    if (!due || !tab) {
        free(tab);
        return due ? memset(due, 1, n ? n : 1) : NULL;
    }
    ni = 0;
    for (rt_integ *in = r->integs; in; in = in->next)
        tab[ni++] = in;
    qsort(tab, ni, sizeof *tab, cmp_integ);
    for (size_t j = 0; j < n; j++) {
        char hash[17];
        rt_integ *in = find_sorted(tab, ni, files[j]);
        rt_hash_file(files[j], hash);
        due[j] = all || !unchanged(r, in, files[j], hash) || module_changed(r, in);
    }
    free(tab);
    return due;
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
    char **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted) {
        rt_free_files(files, n);
        return;
    }
    memcpy(sorted, files, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    for (size_t i = 0; i < r->nfiles; i++)
        if (!n || !bsearch(&r->files[i], sorted, n, sizeof *sorted, cmp_str))
            rt_unload_file(r, r->files[i]);
    free(sorted);
    unsigned char *due = due_loads(r, files, n, all);
    for (size_t j = 0; j < n; j++)
        if (!due || due[j])
            rt_load_file(r, files[j]);
    free(due);
    clear_modules(r);
    rt_free_files(r->files, r->nfiles);
    r->files = files;
    r->nfiles = n;
    char last[PATH_MAX] = "";
    for (size_t j = 0; j < n; j++) {
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s", files[j]);
        char *s = strrchr(d, '/');
        if (s && s != d) {
            *s = '\0';
            if (strcmp(d, last) != 0)
                add_watch(r, d, MAX_DEPTH);
            memcpy(last, d, sizeof last);
        }
    }
}

void rt_reload_watch_modules(rt *r, rt_version *v)
{
    if (r->watches && r->inofd > 0)
        rt_version_modules(v, watch_module, r);
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
            /* Not an integration file: a local module (its users reload). */
            if (lua && !is_loaded_file(r, path))
                mark_module(r, path);
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
    clear_modules(r);
    rt_chunk_cache_free();
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
