/* vdb-server — leveled log lines on stderr with a UTC timestamp. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server.h"

static int log_level = SRV_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

int srv_log_set_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(name, level_names[i])) {
            log_level = i;
            return 0;
        }
    if (!strcasecmp(name, "warning")) {
        log_level = SRV_LOG_WARN;
        return 0;
    }
    return -1;
}

int srv_log_enabled(int level)
{
    return level <= log_level;
}

void srv_log(int level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* one fputs per line: lines from different threads do not interleave */
    size_t len = strlen(line);
    if (len + 1 < sizeof line) {
        line[len] = '\n';
        line[len + 1] = 0;
    }
    fputs(line, stderr);
}
