/*
 * atomic.c - see atomic.h. The temporary file lives beside the target so that rename()
 * stays within one file system and is atomic.
 */
#include "atomic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ds_status io_fail(ds_error *err, const char *path, const char *what)
{
    if (err) {
        err->status = DS_ERR_IO;
        snprintf(err->message, sizeof err->message, "%.400s: cannot %s: %s", path, what,
                 strerror(errno));
    }
    return DS_ERR_IO;
}

ds_status cli_atomic_open(cli_atomic *a, const char *path, ds_error *err)
{
    memset(a, 0, sizeof *a);
    if (strlen(path) >= sizeof a->path) {
        errno = ENAMETOOLONG;
        return io_fail(err, path, "write");
    }
    strcpy(a->path, path);
    snprintf(a->tmp, sizeof a->tmp, "%s.XXXXXX", path);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        a->tmp[0] = '\0';
        return io_fail(err, path, "write");
    }
    /* mkstemp creates the file 0600; outputs are ordinary files others may read */
    if (fchmod(fd, 0644) != 0) {
        close(fd);
        unlink(a->tmp);
        a->tmp[0] = '\0';
        return io_fail(err, path, "write");
    }
    a->f = fdopen(fd, "w");
    if (!a->f) {
        close(fd);
        unlink(a->tmp);
        a->tmp[0] = '\0';
        return io_fail(err, path, "write");
    }
    return DS_OK;
}

void cli_atomic_abort(cli_atomic *a)
{
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->tmp[0]) unlink(a->tmp);
    a->tmp[0] = '\0';
}

ds_status cli_atomic_commit(cli_atomic *a, ds_error *err)
{
    if (!a->f) return io_fail(err, a->path, "write");
    int bad = ferror(a->f) != 0;
    bad |= fflush(a->f) != 0;
    bad |= fsync(fileno(a->f)) != 0 && errno != EINVAL;
    int saved = errno;
    bad |= fclose(a->f) != 0;
    a->f = NULL;
    if (bad) {
        errno = saved ? saved : EIO;
        ds_status s = io_fail(err, a->path, "write");
        cli_atomic_abort(a);
        return s;
    }
    if (rename(a->tmp, a->path) != 0) {
        ds_status s = io_fail(err, a->path, "replace");
        cli_atomic_abort(a);
        return s;
    }
    a->tmp[0] = '\0';
    return DS_OK;
}

ds_status cli_write_file(const char *path, const char *text, size_t len, ds_error *err)
{
    cli_atomic a;
    ds_status s = cli_atomic_open(&a, path, err);
    if (s) return s;
    if (fwrite(text, 1, len, a.f) != len) {
        cli_atomic_abort(&a);
        return io_fail(err, path, "write");
    }
    return cli_atomic_commit(&a, err);
}
