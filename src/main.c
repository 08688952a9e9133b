/* main.c — the `lira` command line: dispatches to subcommands.
 *
 * Exit status: what the subcommand returns; 0 for --help and version; 2 for
 * an unknown command or flag (with a message on stderr). */
#include <stdio.h>
#include <string.h>

#include "runtime/rt_webhook.h"
#include "runtime/runtime.h"
#include "sandbox/sandbox.h"
#include "sandbox/send_webhook.h"

#ifndef LIRA_VERSION
#define LIRA_VERSION "unknown"
#endif

static const char USAGE[] =
    "usage: lira <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  run            load, schedule, supervise and hot-reload integrations\n"
    "                 (lira run --help)\n"
    "  check          validate integration files without running them\n"
    "  sandbox        run a local fault-injecting fake API (lira sandbox --help)\n"
    "  sandbox send-webhook\n"
    "                 sign and POST a webhook like a provider does\n"
    "  webhooks       list and replay the webhook inbox (lira webhooks --help)\n"
    "  version        print the version\n"
    "\n"
    "  -h, --help     this text\n"
    "  --version      print the version\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(USAGE, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("lira %s\n", LIRA_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return lira_run_main(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return lira_check_main(argc - 1, argv + 1);
    if (strcmp(cmd, "webhooks") == 0)
        return lira_webhooks_main(argc - 1, argv + 1);
    if (strcmp(cmd, "sandbox") == 0) {
        if (argc >= 3 && strcmp(argv[2], "send-webhook") == 0)
            return lira_sandbox_send_webhook_main(argc - 2, argv + 2);
        return lira_sandbox_main(argc - 1, argv + 1);
    }
    fprintf(stderr, "lira: unknown command '%s'\nTry 'lira --help'.\n", cmd);
    return 2;
}
