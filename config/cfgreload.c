/* cfgreload.c -- see cfgreload.h: aligning a reloaded config with the running
 * one, and the inotify watch of the pipeline files. */
#include "cfgreload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* Reorder items (n pointers, each with a name at name_off and an index at
 * index_off) to the order of the old list; -1 with diagnostics when the
 * sets of names differ. */
#define NAME(p, off) (*(char **)((char *)(p) + (off)))

/* Diagnostics for each name of `from` that `in` lacks; -1 if there was one. */
static int missing(void **from, size_t nfrom, void **in, size_t nin, size_t name_off, const char *what,
                   const char *change, sy_diags *d)
{
    int rc = 0;
    for (size_t i = 0; i < nfrom; i++) {
        size_t j = 0;
        while (j < nin && strcmp(NAME(from[i], name_off), NAME(in[j], name_off))) j++;
        if (j < nin) continue;
        sy_diags_add(d, NULL, 0, 0, "%s '%.100s' %s: that needs a restart", what, NAME(from[i], name_off), change);
        rc = -1;
    }
    return rc;
}

/* Reorder news (pointers to structs with a name at name_off and an index
 * at index_off) to the order of olds; -1 with diagnostics when the sets of
 * names differ. */
static int align_list(void **olds, size_t nold, void **news, size_t nnew, size_t name_off,
                      size_t index_off, const char *what, sy_diags *d)
{
    int rc = missing(news, nnew, olds, nold, name_off, what, "added", d);
    rc |= missing(olds, nold, news, nnew, name_off, what, "removed", d);
    if (rc) return -1;
    /* the same sets (names are unique in a config): news in old order */
    for (size_t j = 0; j < nold; j++) {
        for (size_t i = j; i < nnew; i++) {
            if (strcmp(NAME(news[i], name_off), NAME(olds[j], name_off))) continue;
            void *t = news[j];
            news[j] = news[i];
            news[i] = t;
            break;
        }
        *(size_t *)((char *)news[j] + index_off) = j;
    }
    return 0;
}

int sy_config_align(const sy_config *old, sy_config *neu, sy_diags *d)
{
    int rc = 0;
    rc |= align_list((void **)old->providers, old->nproviders, (void **)neu->providers, neu->nproviders,
                     offsetof(sy_provider, name), offsetof(sy_provider, index), "provider", d);
    rc |= align_list((void **)old->tiers, old->ntiers, (void **)neu->tiers, neu->ntiers,
                     offsetof(sy_tier, name), offsetof(sy_tier, index), "tier", d);
    rc |= align_list((void **)old->tasks, old->ntasks, (void **)neu->tasks, neu->ntasks,
                     offsetof(sy_task, name), offsetof(sy_task, index), "task", d);
    for (size_t i = 0; rc == 0 && i < old->ntiers; i++) {
        if (strcmp(old->tiers[i]->topic, neu->tiers[i]->topic)) {
            sy_diags_add(d, neu->tiers[i]->file, 0, 0,
                         "tier '%.100s': its topic changed (%.100s -> %.100s): that needs a restart",
                         neu->tiers[i]->name, old->tiers[i]->topic, neu->tiers[i]->topic);
            rc = -1;
        }
    }
    if (old->nbudgets != neu->nbudgets) {
        sy_diags_add(d, NULL, 0, 0, "budgets added or removed (%zu -> %zu): that needs a restart",
                     old->nbudgets, neu->nbudgets);
        rc = -1;
    }
    return rc ? -1 : 0;
}

static void log_rejected(const char *why, const sy_diags *d)
{
    sy_error("reload (%s) rejected: the pipelines stay as they were; %zu error(s):", why, d->n);
    for (size_t i = 0; i < d->n; i++) {
        const sy_diag *e = &d->items[i];
        if (e->file && e->line)
            sy_error("reload: %s:%d:%d: %s", e->file, e->line, e->column, e->message);
        else if (e->file)
            sy_error("reload: %s: %s", e->file, e->message);
        else
            sy_error("reload: %s", e->message);
    }
}

int sy_config_reload(const sy_config *old, const sy_provider_kind *const *kinds, const char *const *files,
                     size_t nfiles, int flags, const char *why, sy_config *neu)
{
    sy_diags d = {0};
    int rc = sy_config_load(neu, kinds, files, nfiles, flags, &d);
    if (rc == 0 && sy_config_align(old, neu, &d) != 0) {
        sy_config_free(neu);
        rc = -1;
    }
    if (rc != 0) log_rejected(why, &d);
    sy_diags_free(&d);
    return rc;
}

/* ---- the watch ---- */

struct sy_cfg_watch {
    int fd;
    char **names; /* base names of the files, by file */
    int *wd;      /* watch descriptor of each file's directory */
    int *pwd;     /* ... of its prompts/ folder (prompts.h; -1: none): any *.yaml counts */
    size_t n;
};

#define WATCH_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO)

sy_cfg_watch *sy_cfg_watch_open(const char *const *files, size_t nfiles)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return NULL;
    sy_cfg_watch *w = sy_xcalloc(1, sizeof *w);
    w->fd = fd;
    w->names = sy_xcalloc(nfiles + 1, sizeof *w->names);
    w->wd = sy_xcalloc(nfiles + 1, sizeof *w->wd);
    w->pwd = sy_xcalloc(nfiles + 1, sizeof *w->pwd);
    w->n = nfiles;
    for (size_t i = 0; i < nfiles; i++) {
        const char *slash = strrchr(files[i], '/');
        char *dir = slash ? sy_xstrndup(files[i], (size_t)(slash - files[i]) + (slash == files[i]))
                          : sy_xstrdup(".");
        w->names[i] = sy_xstrdup(slash ? slash + 1 : files[i]);
        w->wd[i] = inotify_add_watch(fd, dir, WATCH_EVENTS);
        char *prompts = sy_xcalloc(1, strlen(dir) + sizeof "/prompts");
        sprintf(prompts, "%s/prompts", dir);
        w->pwd[i] = inotify_add_watch(fd, prompts, WATCH_EVENTS | IN_DELETE); /* -1: no such folder */
        free(prompts);
        free(dir);
        if (w->wd[i] < 0) {
            int e = errno;
            sy_cfg_watch_close(w);
            errno = e;
            return NULL;
        }
    }
    return w;
}

void sy_cfg_watch_close(sy_cfg_watch *w)
{
    if (!w) return;
    close(w->fd);
    for (size_t i = 0; i < w->n; i++) free(w->names[i]);
    free(w->names);
    free(w->wd);
    free(w->pwd);
    free(w);
}

int sy_cfg_watch_fd(const sy_cfg_watch *w)
{
    return w->fd;
}

bool sy_cfg_watch_drain(sy_cfg_watch *w)
{
    bool hit = false;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t got;
    while ((got = read(w->fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + got;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            size_t len = ev->len ? strlen(ev->name) : 0;
            for (size_t i = 0; ev->len && i < w->n; i++) {
                if (ev->wd == w->wd[i] && !strcmp(ev->name, w->names[i])) hit = true;
                if (ev->wd == w->pwd[i] && len > 5 && !strcmp(ev->name + len - 5, ".yaml")) hit = true;
            }
            p += sizeof *ev + ev->len;
        }
    }
    return hit;
}
