/* The folder lock's message names the process that holds it, whenever the lock is held: also
 * while the holder has taken the lock and not yet written its pid (two processes racing to
 * create one fresh folder once read "locked by process (unknown)"), and when LOCK still names
 * a dead process whose lock a new one took over. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vdb/vdb.h>

#include "test_common.h"

static char *lock_path(const char *dir)
{
    char *p = malloc(strlen(dir) + 8);
    assert_non_null(p);
    sprintf(p, "%s/LOCK", dir);
    return p;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* "locked by process N": N, or -1 when the message names no number there. */
static long named_pid(const char *msg)
{
    const char *at = strstr(msg, "locked by process ");
    if (!at)
        return -1;
    at += strlen("locked by process ");
    char *end;
    long pid = strtol(at, &end, 10);
    return end == at ? -1 : pid;
}

/* A child that takes LOCK's lock the way vdb_open does, says 'L', and writes its pid only
 * delay_ms later (the window between the two steps, made wide); it exits when the pipe to
 * it closes. With stale_pid, LOCK first holds that pid (a holder that died). */
static pid_t slow_holder(const char *dir, long delay_ms, long stale_pid, int *to_child,
                         int *from_child)
{
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    char *p = lock_path(dir);
    if (stale_pid) {
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fprintf(f, "%ld\n", stale_pid);
        fclose(f);
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) != 0)
            _exit(2);
        if (write(up[1], "L", 1) != 1)
            _exit(3);
        sleep_ms(delay_ms);
        char text[32];
        int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
        if (pwrite(fd, text, (size_t)n, 0) != n || ftruncate(fd, n) != 0)
            _exit(4);
        char c;
        while (read(down[0], &c, 1) > 0) {
        }
        _exit(0);
    }
    free(p);
    close(up[1]);
    close(down[0]);
    char c = 0;
    assert_int_equal(read(up[0], &c, 1), 1);
    assert_int_equal(c, 'L');
    *to_child = down[1];
    *from_child = up[0];
    return pid;
}

static void finish_child(pid_t pid, int to_child, int from_child)
{
    close(to_child);
    close(from_child);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void expect_locked_by(const char *dir, pid_t holder)
{
    vdb_db *db = NULL;
    vdb_status st = vdb_open(dir, NULL, &db);
    if (st != VDB_ELOCKED)
        fail_msg("open of a locked folder: %s: %s", vdb_status_name(st), vdb_errmsg(NULL));
    assert_null(db);
    if (named_pid(vdb_errmsg(NULL)) != (long)holder)
        fail_msg("ELOCKED message does not name pid %ld: %s", (long)holder, vdb_errmsg(NULL));
}

static void test_holder_between_lock_and_pid_is_named(void **state)
{
    (void)state;
    char *dir = test_tmpdir("lock_window");
    int to, from;
    pid_t pid = slow_holder(dir, 200, 0, &to, &from);
    expect_locked_by(dir, pid);
    finish_child(pid, to, from);
    test_rmdir(dir);
    free(dir);
}

static void test_stale_pid_of_a_dead_holder_is_not_named(void **state)
{
    (void)state;
    char *dir = test_tmpdir("lock_stale");
    pid_t dead = fork(); /* a pid that names no live process once reaped */
    assert_true(dead >= 0);
    if (dead == 0)
        _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    int to, from;
    pid_t pid = slow_holder(dir, 200, (long)dead, &to, &from);
    expect_locked_by(dir, pid);
    finish_child(pid, to, from);
    test_rmdir(dir);
    free(dir);
}

/* Eight processes open one fresh folder at once: one wins, each other one's message names
 * the winner. */
static void test_racing_opens_of_a_fresh_folder_name_the_winner(void **state)
{
    (void)state;
    enum { N = 8 };
    for (int round = 0; round < 5; round++) {
        char *dir = test_tmpdir("lock_race");
        char *fresh = malloc(strlen(dir) + 8);
        assert_non_null(fresh);
        sprintf(fresh, "%s/db", dir); /* not there yet: vdb_open creates it */
        int go[2], res[2], hold[2];
        assert_int_equal(pipe(go), 0);
        assert_int_equal(pipe(res), 0);
        assert_int_equal(pipe(hold), 0);
        pid_t kids[N];
        for (int i = 0; i < N; i++) {
            kids[i] = fork();
            assert_true(kids[i] >= 0);
            if (kids[i] == 0) {
                close(go[1]);
                close(res[0]);
                close(hold[1]);
                char c;
                if (read(go[0], &c, 1) < 0) /* all start together: the pipe closes */
                    _exit(5);
                vdb_db *db = NULL;
                vdb_status st = vdb_open(fresh, NULL, &db);
                char line[600];
                int n;
                if (st == VDB_OK)
                    n = snprintf(line, sizeof line, "W %ld\n", (long)getpid());
                else if (st == VDB_ELOCKED)
                    n = snprintf(line, sizeof line, "L %ld\n", named_pid(vdb_errmsg(NULL)));
                else
                    n = snprintf(line, sizeof line, "E %.500s\n", vdb_errmsg(NULL));
                if (write(res[1], line, (size_t)n) != n) /* under PIPE_BUF: one piece */
                    _exit(6);
                if (st == VDB_OK) {
                    while (read(hold[0], &c, 1) > 0) {
                    }
                    vdb_close(db);
                }
                _exit(0);
            }
        }
        close(go[0]);
        close(res[1]);
        close(hold[0]);
        close(go[1]); /* go */
        char buf[N * 600 + 1];
        size_t len = 0;
        int lines = 0;
        while (lines < N) {
            ssize_t n = read(res[0], buf + len, sizeof buf - 1 - len);
            assert_true(n > 0);
            for (ssize_t k = 0; k < n; k++)
                lines += buf[len + (size_t)k] == '\n';
            len += (size_t)n;
        }
        buf[len] = 0;
        close(hold[1]); /* the winner closes and exits */
        for (int i = 0; i < N; i++) {
            int status = 0;
            assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        close(res[0]);
        long winner = -1;
        int winners = 0, losers = 0;
        for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
            if (l[0] == 'W') {
                winner = strtol(l + 2, NULL, 10);
                winners++;
            } else if (l[0] != 'L') {
                fail_msg("an open of the fresh folder failed: %s", l);
            }
        }
        assert_int_equal(winners, 1);
        for (char *l = buf; l < buf + len; l += strlen(l) + 1) {
            if (l[0] != 'L')
                continue;
            losers++;
            if (strtol(l + 2, NULL, 10) != winner)
                fail_msg("round %d: a loser's message names pid %s, the winner is %ld", round,
                         l + 2, winner);
        }
        assert_int_equal(losers, N - 1);
        test_rmdir(dir);
        free(fresh);
        free(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holder_between_lock_and_pid_is_named),
        cmocka_unit_test(test_stale_pid_of_a_dead_holder_is_not_named),
        cmocka_unit_test(test_racing_opens_of_a_fresh_folder_name_the_winner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
