/* send_webhook.h — `lira sandbox send-webhook`: sign and POST a webhook the
 * way a provider (Standard Webhooks, Stripe, GitHub) does. */
#ifndef LIRA_SANDBOX_SEND_WEBHOOK_H
#define LIRA_SANDBOX_SEND_WEBHOOK_H

/* Entry point of the subcommand. argv[0] is "send-webhook"; the rest are its
 * flags. Returns the process exit status: 0 when the receiver answered 2xx,
 * 1 for any other answer or a transport failure, 2 for bad flags (with a
 * message on stderr). */
int lira_sandbox_send_webhook_main(int argc, char **argv);

#endif
