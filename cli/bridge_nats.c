// SPDX-License-Identifier: GPL-2.0
/*
 * evbus bridge: the NATS connection (servers, credentials, TLS, reconnects
 * with backoff) and the JetStream stream.
 */
#include <errno.h>
#include <string.h>

#include "bridge.h"

/* libnats's own text for a status, with its last error when it has one. */
const char *bridge_nats_err(natsStatus s)
{
	natsStatus last;
	const char *txt = nats_GetLastError(&last);

	return txt && *txt && last == s ? txt : natsStatus_GetText(s);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	struct bridge *br = closure;

	if (!atomic_load(&br->closing))
		cli_err("bridge: disconnected from NATS; reconnecting");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	char url[256] = "";

	natsConnection_GetConnectedUrl(nc, url, sizeof(url));
	cli_err("bridge: reconnected to %s", url);
}

static void on_closed(natsConnection *nc, void *closure)
{
	struct bridge *br = closure;

	atomic_store(&br->closed, true);
}

static void on_async_err(natsConnection *nc, natsSubscription *sub,
			 natsStatus err, void *closure)
{
	/* Dropped messages show up as gaps in Evbus-Bridge-Seq: reported. */
	cli_err("bridge: NATS: %s", natsStatus_GetText(err));
}

/*
 * Exponential backoff between reconnect rounds: the configured wait,
 * doubled per round (attempts counts rounds through the server list), up
 * to 16 times it, with libnats's jitter on top.
 */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
	const struct bridge *br = closure;
	int shift = attempts < 1 ? 0 : attempts > 5 ? 4 : attempts - 1;

	return br->reconnect_wait_ms << shift;
}

static natsStatus bridge_auth_opts(struct bridge *br, natsOptions *o)
{
	natsStatus s = NATS_OK;

	if (br->creds)
		s = natsOptions_SetUserCredentialsFromFiles(o, br->creds, NULL);
	if (s == NATS_OK && br->user)
		s = natsOptions_SetUserInfo(o, br->user, br->password);
	if (s == NATS_OK && br->token)
		s = natsOptions_SetToken(o, br->token);
	if (s == NATS_OK && (br->tls_ca || br->tls_cert))
		s = natsOptions_SetSecure(o, true);
	if (s == NATS_OK && br->tls_ca)
		s = natsOptions_LoadCATrustedCertificates(o, br->tls_ca);
	if (s == NATS_OK && br->tls_cert)
		s = natsOptions_LoadCertificatesChain(o, br->tls_cert, br->tls_key);
	return s;
}

static natsStatus bridge_opts(struct bridge *br, natsOptions *o)
{
	natsStatus s;
	char name[96];

	snprintf(name, sizeof(name), "evbus-bridge %s", br->origin);
	s = natsOptions_SetServers(o, br->servers, br->n_servers);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, name);
	/*
	 * One delivery thread for every subscription: messages are imported
	 * in the order they came, whatever their subject.
	 */
	if (s == NATS_OK)
		s = natsOptions_UseGlobalMessageDelivery(o, true);
	/* Never get back what this connection publishes. */
	if (s == NATS_OK)
		s = natsOptions_SetNoEcho(o, true);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetCustomReconnectDelay(o, reconnect_delay, br);
	if (s == NATS_OK && br->reconnect_buf)
		s = natsOptions_SetReconnectBufSize(o, (int)br->reconnect_buf);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(o, on_disconnected, br);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, on_reconnected, br);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(o, on_closed, br);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(o, on_async_err, br);
	if (s == NATS_OK)
		s = bridge_auth_opts(br, o);
	return s;
}

int bridge_nats_connect(struct bridge *br)
{
	natsOptions *o = NULL;
	natsStatus s;

	s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = bridge_opts(br, o);
	if (s != NATS_OK) {
		cli_err("bridge: NATS options: %s", bridge_nats_err(s));
		natsOptions_Destroy(o);
		return EXIT_RUNTIME;
	}
	s = natsConnection_Connect(&br->nc, o);
	natsOptions_Destroy(o);
	if (s != NATS_OK) {
		cli_err("bridge: cannot connect to NATS (%s%s): %s", br->servers[0],
			br->n_servers > 1 ? ", ..." : "", bridge_nats_err(s));
		return EXIT_RUNTIME;
	}
	if (br->stream) {
		s = natsConnection_JetStream(&br->js, br->nc, NULL);
		if (s != NATS_OK) {
			cli_err("bridge: JetStream context: %s", bridge_nats_err(s));
			return EXIT_RUNTIME;
		}
	}
	return 0;
}

void bridge_nats_close(struct bridge *br)
{
	int i;

	for (i = 0; i < br->n_subs; i++)
		natsSubscription_Unsubscribe(br->subs[i]);
	if (br->nc)
		natsConnection_FlushTimeout(br->nc, 2000);
	for (i = 0; i < br->n_subs; i++)
		natsSubscription_Destroy(br->subs[i]);
	br->n_subs = 0;
	jsCtx_Destroy(br->js);
	br->js = NULL;
	natsConnection_Destroy(br->nc);
	br->nc = NULL;
}

/*
 * The stream must exist or is created: file storage, the exported
 * subjects and this origin's lag subject, de-duplication over the default
 * window.  An existing stream is used as it is.
 */
int bridge_stream_setup(struct bridge *br)
{
	const char *subjects[BRIDGE_MAX_PATTERNS + 1];
	jsStreamInfo *si = NULL;
	jsStreamConfig cfg;
	jsErrCode jerr = 0;
	natsStatus s;
	int i;

	s = js_GetStreamInfo(&si, br->js, br->stream, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	if (jerr != JSStreamNotFoundErr) {
		cli_err("bridge: JetStream stream '%s': %s", br->stream,
			bridge_nats_err(s));
		return EXIT_RUNTIME;
	}
	for (i = 0; i < br->n_exports; i++)
		subjects[i] = br->export_subj[i];
	subjects[i] = br->lag_subject;
	jsStreamConfig_Init(&cfg);
	cfg.Name = br->stream;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = br->n_exports + 1;
	cfg.Storage = js_FileStorage;
	s = js_AddStream(&si, br->js, &cfg, NULL, &jerr);
	if (s != NATS_OK) {
		cli_err("bridge: cannot create JetStream stream '%s': %s (error %d)",
			br->stream, bridge_nats_err(s), (int)jerr);
		return EXIT_RUNTIME;
	}
	jsStreamInfo_Destroy(si);
	if (br->verbose)
		cli_err("bridge: created JetStream stream '%s'", br->stream);
	return 0;
}
