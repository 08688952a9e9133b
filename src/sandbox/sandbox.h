/* sandbox.h — `lira sandbox`: a local, fault-injecting fake API on 127.0.0.1.
 *
 * The whole subcommand (flags, endpoints, scenario format) is documented in
 * docs/sandbox.md. This header is all that main.c needs. */
#ifndef LIRA_SANDBOX_H
#define LIRA_SANDBOX_H

/* Entry point of `lira sandbox`. argv[0] is "sandbox"; the rest are its
 * flags (`--listen HOST:PORT`, `--scenario FILE`, `--seed N`, `--help`).
 * Prints "listening on http://HOST:PORT" (one line, flushed) once it accepts
 * connections, serves until SIGTERM or SIGINT, and returns the process exit
 * status: 0 after a clean shutdown (or --help), 1 when the server cannot
 * start (address in use, out of memory), 2 for bad flags or a bad scenario
 * file (with a message on stderr). Installs its own signal dispositions;
 * call it at most once per process. */
int lira_sandbox_main(int argc, char **argv);

#endif
