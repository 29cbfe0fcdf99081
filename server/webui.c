/* vdb-server — /webui: the page's files (built in by scripts/embed-files.py from
 * server/webui/) and the headers they are served with. http.c answers GET and HEAD with
 * them; the page's data calls are POSTs on the REST routes and /webui/api (router.c). */
#include <string.h>

#include "server.h"

#define WEBUI_PREFIX "/webui"

/* The page runs only its own script and style (no inline script, no eval), talks only to
 * this origin, and is not framed; no-cache: a new server binary's page is seen at once. */
const char srv_webui_headers[] =
    "Cache-Control: no-cache\r\n"
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n";

const srv_asset *srv_webui_find(const char *target, int *is_webui)
{
    size_t pl = strlen(WEBUI_PREFIX);
    *is_webui = 0;
    if (strncmp(target, WEBUI_PREFIX, pl) || (target[pl] && target[pl] != '/'))
        return NULL;
    *is_webui = 1;
    const char *name = target[pl] ? target + pl + 1 : "";
    if (!*name)
        name = "index.html";
    for (size_t i = 0; i < srv_webui_nassets; i++)
        if (!strcmp(srv_webui_assets[i].name, name))
            return &srv_webui_assets[i];
    return NULL;
}

const char *srv_webui_type(const srv_asset *a)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
    };
    const char *dot = strrchr(a->name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}
