/* link_tls.c - TLS 1.3 as a link (link.h): OpenSSL over the libuv loop
 * through memory BIOs, on a uv_tcp_t of its own (as link_tcp.c); listening
 * too. The only file that calls OpenSSL.
 *
 *   conn's iovecs (shared, refcounted plaintext)
 *       |  try_write / write: SSL_write, 16 KiB records; small pieces
 *       v  are gathered on the stack into one record first
 *   [ SSL ] --wbio (memory BIO: the ciphertext backlog)--> fly[] --> socket
 *       ^                                       uv_try_write, else one
 *       |  SSL_read into ev->on_alloc's buffer   uv_write in flight
 *   [ SSL ] <--rbio (memory BIO)-- BIO_write <-- tc->scratch <-- socket
 *
 * Plaintext is never copied into a per-client queue: it stays in conn's
 * shared buffers until SSL_write has turned it into this link's
 * ciphertext. The ciphertext not yet in the kernel (wbio + the write in
 * flight) is bounded: once it is over LINK_TLS_BACKLOG, no more plaintext
 * is taken (try_write returns what it took, or UV_EAGAIN) until the
 * socket drains it. A socket read lands in a scratch buffer shared by
 * every link of the endpoint, since BIO_write copies it at once.
 *
 * Contexts: conf_open makes one SSL_CTX per endpoint URI; conf_reload
 * makes a fresh one from the same files for the links made after it.
 * Each link holds a reference on the context it was made with, so the
 * old one is freed when its last link closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "addr.h"
#include "link.h"
#include "link_tcp.h"
#include "listener.h"
#include "log.h"
#include "net.h"
#include "tls_conf.h"
#include "util.h"

/* Ciphertext kept beyond the kernel socket buffer, per link. */
#define LINK_TLS_BACKLOG (256u << 10)
/* The most plaintext one SSL_write is given: one TLS record. */
#define LINK_TLS_RECORD 16384
/* Ciphertext handed to the socket at once (a few records). */
#define LINK_TLS_FLY (64u << 10)
/* A peer that does not finish its handshake in this time is closed, so
 * a silent TCP connection cannot hold a slot. */
#define LINK_TLS_HANDSHAKE_MS 10000
#define LINK_TLS_SCRATCH (64u << 10)
/* A TLS 1.3 client finishes its handshake before the server has checked
 * the client's certificate; the server's refusal comes after. So a
 * connecting link is ready only once the server has said something
 * after the handshake (our servers send one session ticket for this,
 * which nobody uses otherwise), or after this long without a refusal
 * (servers that send nothing). Without it a refused client would count
 * as connected and redial at once, forever. */
#define LINK_TLS_CONFIRM_MS 300

/* One generation of an endpoint's TLS configuration. */
struct tls_ctx {
	SSL_CTX *ctx;
	struct tls_psk_table psk;
	bool server;
	bool has_cert;
	unsigned refs;          /* the conf's + one per link */
	uint8_t scratch[LINK_TLS_SCRATCH];
};

/* conf->tctx */
struct tls_endpoint {
	struct tls_ctx *cur;    /* what new links use */
};

struct link_tls {
	struct link base;
	uv_tcp_t tcp;
	uv_timer_t timer;       /* handshake deadline */
	uv_connect_t creq;
	uv_write_t wreq;
	struct tls_ctx *tc;
	SSL *ssl;
	BIO *rbio, *wbio;       /* ciphertext in, ciphertext out */
	uint8_t *fly;           /* ciphertext of the uv_write in flight */
	size_t flylen;
	bool writing;           /* a uv_write is in flight */
	bool handshaken;
	bool confirmed;         /* connect side: the server sent a ticket */
	bool reading;           /* read_start was called */
	bool failed;            /* a fatal TLS or socket error was seen */
	bool psk_used;
	int handles;            /* tcp + timer, until both have closed */
	/* link_write in progress: the rest of its plaintext. */
	struct iovec *wv;
	unsigned wn, wcap;
	bool wpending;
	char psk_id[TLS_PSK_ID_MAX + 1];
};

static struct link_tls *link_tls_new(uv_loop_t *loop,
				     const struct link_conf *conf);
static void link_tls_flush(struct link_tls *t);
static void link_tls_ready(struct link_tls *t);
static void link_tls_confirm(struct link_tls *t);
static void link_tls_on_timeout(uv_timer_t *tm);

/* ---- contexts ------------------------------------------------------- */

static void tls_ctx_unref(struct tls_ctx *tc)
{
	if (!tc || --tc->refs > 0)
		return;
	SSL_CTX_free(tc->ctx);
	tls_psk_free(&tc->psk);
	free(tc);
}

/* "tls: REASON" from OpenSSL's error queue (emptied), or from what. */
static void tls_error(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e) {
		ERR_error_string_n(e, buf, sizeof(buf));
		/* "error:0A000086:SSL routines::certificate verify failed":
		 * the part after the last ':' is what a person needs. */
		snprintf(err, errlen, "tls: %s",
			 strrchr(buf, ':') ? strrchr(buf, ':') + 1 : buf);
	} else {
		snprintf(err, errlen, "tls: %s", what);
	}
	ERR_clear_error();
}

/* The file exists and is readable; a secret one is ours alone. */
static int tls_check_file(const char *what, const char *path, bool secret,
			  char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
		snprintf(err, errlen, "tls: cannot read %s file '%s': %s", what,
			 path, strerror(errno));
		return -errno;
	}
	if (secret && !tls_secret_mode_ok(st.st_mode)) {
		snprintf(err, errlen,
			 "tls: %s file '%s' may be read by group or others "
			 "(mode %04o): chmod 600 it",
			 what, path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

static int tls_load_psk(struct tls_ctx *tc, const char *path, char *err,
			size_t errlen)
{
	char e[200], *text = NULL;
	size_t len = 0, cap = 0;
	FILE *f = fopen(path, "rb");
	int rc;

	if (!f) {
		snprintf(err, errlen, "tls: cannot read psk file '%s': %s",
			 path, strerror(errno));
		return -errno;
	}
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			text = xrealloc(text, cap);
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n == 0 || len > TLS_PSK_FILE_MAX)
			break;
	}
	fclose(f);
	rc = tls_psk_parse(text, len, &tc->psk, e, sizeof(e));
	explicit_bzero(text, cap);
	free(text);
	if (rc < 0)
		snprintf(err, errlen, "tls: psk file '%s': %s", path, e);
	return rc;
}

/* TLS 1.3 external PSKs need a session whose cipher's hash is the one
 * the server picks; PSK endpoints therefore offer SHA-256 suites only
 * and the session says TLS_AES_128_GCM_SHA256. */
static const unsigned char tls_psk_cipher_id[2] = { 0x13, 0x01 };

static SSL_SESSION *tls_psk_session(SSL *ssl, const struct tls_psk *k)
{
	const SSL_CIPHER *c = SSL_CIPHER_find(ssl, tls_psk_cipher_id);
	SSL_SESSION *s = SSL_SESSION_new();

	if (!c || !s || !SSL_SESSION_set1_master_key(s, k->key, k->keylen) ||
	    !SSL_SESSION_set_cipher(s, c) ||
	    !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
		SSL_SESSION_free(s);
		return NULL;
	}
	return s;
}

/* Client: present the first identity of the file. */
static int tls_psk_use(SSL *ssl, const EVP_MD *md, const unsigned char **id,
		       size_t *idlen, SSL_SESSION **sess)
{
	struct link_tls *t = SSL_get_app_data(ssl);
	const struct tls_psk *k = &t->tc->psk.v[0];
	const SSL_CIPHER *c = SSL_CIPHER_find(ssl, tls_psk_cipher_id);

	*sess = NULL;
	/* After a HelloRetryRequest md is the chosen suite's: only a
	 * SHA-256 one can use our key. */
	if (md && c && md != SSL_CIPHER_get_handshake_digest(c))
		return 1;
	*sess = tls_psk_session(ssl, k);
	if (!*sess)
		return 0;
	*id = (const unsigned char *)k->identity;
	*idlen = strlen(k->identity);
	snprintf(t->psk_id, sizeof(t->psk_id), "%s", k->identity);
	return 1;
}

/* Server: the key of the identity the client presents. */
static int tls_psk_find_cb(SSL *ssl, const unsigned char *id, size_t idlen,
			   SSL_SESSION **sess)
{
	struct link_tls *t = SSL_get_app_data(ssl);
	const struct tls_psk *k = tls_psk_find(&t->tc->psk, id, idlen);
	char shown[TLS_PSK_ID_MAX + 1];
	size_t i;

	*sess = NULL;
	if (!k) {
		for (i = 0; i < idlen && i < TLS_PSK_ID_MAX; i++)
			shown[i] = id[i] > ' ' && id[i] <= '~' ? (char)id[i]
							       : '?';
		shown[i] = '\0';
		snprintf(t->base.error, sizeof(t->base.error),
			 "tls: unknown psk identity '%.64s'", shown);
		/* With certificates the handshake may still go that way;
		 * without, there is nothing else to try. */
		return t->tc->has_cert ? 1 : 0;
	}
	*sess = tls_psk_session(ssl, k);
	if (!*sess)
		return 0;
	snprintf(t->psk_id, sizeof(t->psk_id), "%s", k->identity);
	return 1;
}

/* Client: the server's ticket, i.e. it accepted our Finished and our
 * certificate. Not kept (0: OpenSSL frees it). */
static int tls_on_ticket(SSL *ssl, SSL_SESSION *sess)
{
	struct link_tls *t = SSL_get_app_data(ssl);

	t->confirmed = true;
	return 0;
}

static struct tls_ctx *tls_ctx_new(const struct uri *u, char *err,
				   size_t errlen)
{
	const struct uri_tls *o = &u->tls;
	struct tls_ctx *tc = xcalloc(1, sizeof(*tc));
	bool server = u->local;
	int mode;

	tc->refs = 1;
	tc->server = server;
	tc->has_cert = o->cert[0] != '\0';
	if ((o->ca[0] && tls_check_file("ca", o->ca, false, err, errlen)) ||
	    (o->cert[0] &&
	     tls_check_file("cert", o->cert, false, err, errlen)) ||
	    (o->key[0] && tls_check_file("key", o->key, true, err, errlen)) ||
	    (o->crl[0] && tls_check_file("crl", o->crl, false, err, errlen)) ||
	    (o->psk_file[0] &&
	     tls_check_file("psk", o->psk_file, true, err, errlen)))
		goto fail;
	if (o->psk_file[0] && tls_load_psk(tc, o->psk_file, err, errlen))
		goto fail;
	ERR_clear_error();
	tc->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!tc->ctx) {
		tls_error(err, errlen, "cannot make a context");
		goto fail;
	}
	SSL_CTX_set_min_proto_version(tc->ctx, TLS1_3_VERSION);
	SSL_CTX_set_mode(tc->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				  SSL_MODE_RELEASE_BUFFERS);
	/* Every link is a fresh full handshake; tickets would be bytes
	 * nobody uses. */
	SSL_CTX_set_num_tickets(tc->ctx, server ? 1 : 0);
	if (server) {
		/* Needed by a PSK "resumption" on a server that verifies
		 * client certificates. */
		SSL_CTX_set_session_id_context(tc->ctx,
					       (const unsigned char *)"mcferry", 7);
		SSL_CTX_set_session_cache_mode(tc->ctx, SSL_SESS_CACHE_OFF);
	} else {
		SSL_CTX_set_session_cache_mode(tc->ctx,
					       SSL_SESS_CACHE_CLIENT |
					       SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(tc->ctx, tls_on_ticket);
	}
	if (o->psk_file[0] &&
	    !SSL_CTX_set_ciphersuites(tc->ctx, "TLS_AES_128_GCM_SHA256:"
					       "TLS_CHACHA20_POLY1305_SHA256")) {
		tls_error(err, errlen, "cannot set the PSK cipher suites");
		goto fail;
	}
	if (o->cert[0] &&
	    SSL_CTX_use_certificate_chain_file(tc->ctx, o->cert) != 1) {
		char e[160];

		tls_error(e, sizeof(e), "bad certificate");
		snprintf(err, errlen, "%s in cert file '%s'", e, o->cert);
		goto fail;
	}
	if (o->key[0] &&
	    (SSL_CTX_use_PrivateKey_file(tc->ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
	     SSL_CTX_check_private_key(tc->ctx) != 1)) {
		char e[160];

		tls_error(e, sizeof(e), "bad key");
		snprintf(err, errlen, "%s in key file '%s'", e, o->key);
		goto fail;
	}
	if (o->ca[0]) {
		if (SSL_CTX_load_verify_locations(tc->ctx, o->ca, NULL) != 1) {
			char e[160];

			tls_error(e, sizeof(e), "bad CA file");
			snprintf(err, errlen, "%s in ca file '%s'", e, o->ca);
			goto fail;
		}
		if (server)
			SSL_CTX_set_client_CA_list(tc->ctx,
						   SSL_load_client_CA_file(o->ca));
	}
	if (o->crl[0]) {
		X509_STORE *st = SSL_CTX_get_cert_store(tc->ctx);
		X509_LOOKUP *lu = X509_STORE_add_lookup(st, X509_LOOKUP_file());

		if (!lu || X509_load_crl_file(lu, o->crl, X509_FILETYPE_PEM) < 1) {
			char e[160];

			tls_error(e, sizeof(e), "bad CRL");
			snprintf(err, errlen, "%s in crl file '%s'", e, o->crl);
			goto fail;
		}
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	/* Who must show a certificate: a client always verifies the
	 * server's (a PSK handshake involves none). A server with a
	 * certificate requires the client's, unless client-cert=optional;
	 * a PSK-only server asks for none. */
	if (!server)
		mode = SSL_VERIFY_PEER;
	else if (!tc->has_cert)
		mode = SSL_VERIFY_NONE;
	else if (o->client_cert == CLIENT_CERT_OPTIONAL)
		mode = o->ca[0] ? SSL_VERIFY_PEER : SSL_VERIFY_NONE;
	else
		mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(tc->ctx, mode, NULL);
	if (o->psk_file[0]) {
		if (server)
			SSL_CTX_set_psk_find_session_callback(tc->ctx,
							      tls_psk_find_cb);
		else
			SSL_CTX_set_psk_use_session_callback(tc->ctx,
							     tls_psk_use);
	}
	return tc;
fail:
	ERR_clear_error();
	tls_ctx_unref(tc);
	return NULL;
}

static int link_tls_conf_open(struct link_conf *conf, char *err,
			      size_t errlen)
{
	struct tls_ctx *tc = tls_ctx_new(conf->uri, err, errlen);
	struct tls_endpoint *ep;

	if (!tc)
		return -EINVAL;
	ep = xcalloc(1, sizeof(*ep));
	ep->cur = tc;
	conf->tctx = ep;
	return 0;
}

/* New links get a context made afresh from the files; established links
 * keep theirs. On failure the current one stays. */
static int link_tls_conf_reload(struct link_conf *conf, char *err,
				size_t errlen)
{
	struct tls_endpoint *ep = conf->tctx;
	struct tls_ctx *tc = tls_ctx_new(conf->uri, err, errlen);

	if (!tc)
		return -EINVAL;
	tls_ctx_unref(ep->cur);
	ep->cur = tc;
	return 0;
}

static void link_tls_conf_close(struct link_conf *conf)
{
	struct tls_endpoint *ep = conf->tctx;

	if (!ep)
		return;
	tls_ctx_unref(ep->cur);
	free(ep);
}

/* ---- errors and identity --------------------------------------------- */

/* l->error from the error queue, with the certificate check's result
 * when that is what failed. Keeps a reason set earlier (a PSK
 * identity). */
static void link_tls_set_error(struct link_tls *t, const char *what)
{
	long v = SSL_get_verify_result(t->ssl);
	char *e = t->base.error;

	if (e[0]) {
		ERR_clear_error();
		return;
	}
	tls_error(e, sizeof(t->base.error), what);
	if (v != X509_V_OK && strstr(e, "certificate verify failed"))
		snprintf(e + strlen(e), sizeof(t->base.error) - strlen(e),
			 " (%s)", X509_verify_cert_error_string(v));
}

/* The peer's name: its certificate's subject CN, else its first DNS
 * name; or the PSK identity. */
static void link_tls_identity(struct link_tls *t)
{
	char *id = t->base.identity;
	X509 *x;
	GENERAL_NAMES *sans;

	if (t->psk_used) {
		snprintf(id, LINK_IDENTITY_MAX, "%s", t->psk_id);
		return;
	}
	x = SSL_get0_peer_certificate(t->ssl);
	if (!x)
		return;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x),
				      NID_commonName, id, LINK_IDENTITY_MAX) > 0)
		return;
	id[0] = '\0';
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

		if (g->type == GEN_DNS) {
			snprintf(id, LINK_IDENTITY_MAX, "%.*s",
				 ASN1_STRING_length(g->d.dNSName),
				 (const char *)ASN1_STRING_get0_data(g->d.dNSName));
			break;
		}
	}
	GENERAL_NAMES_free(sans);
}

/* ---- the handshake and reads ----------------------------------------- */

/* The handshake failed (or timed out): tell the session, once. */
static void link_tls_handshake_failed(struct link_tls *t, int status)
{
	uv_timer_stop(&t->timer);
	if (!t->base.error[0])
		snprintf(t->base.error, sizeof(t->base.error), "tls: %s",
			 status == UV_ETIMEDOUT ? "handshake timeout"
			 : status == UV_EOF     ? "peer closed during handshake"
						: uv_strerror(status));
	t->failed = true;
	t->base.ev->on_connect(&t->base, status);
}

static void link_tls_handshake(struct link_tls *t)
{
	int rc = SSL_do_handshake(t->ssl);

	if (rc != 1) {
		int e = SSL_get_error(t->ssl, rc);

		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			link_tls_flush(t);
			return;
		}
		link_tls_set_error(t, "handshake failed");
		/* Send the alert, so the peer knows why too. */
		link_tls_flush(t);
		link_tls_handshake_failed(t, UV_EPROTO);
		return;
	}
	uv_timer_stop(&t->timer);
	/* A PSK identity refused on the way to a certificate handshake
	 * that then succeeded is no reason for anything. */
	t->base.error[0] = '\0';
	t->handshaken = true;
	t->psk_used = SSL_session_reused(t->ssl) && t->psk_id[0];
	link_tls_identity(t);
	link_tls_flush(t);
	if (SSL_is_server(t->ssl)) {
		link_tls_ready(t);
		return;
	}
	uv_timer_start(&t->timer, link_tls_on_timeout, LINK_TLS_CONFIRM_MS, 0);
	link_tls_confirm(t);
}

static void link_tls_ready(struct link_tls *t)
{
	uv_timer_stop(&t->timer);
	t->base.ready = true;
	t->base.ev->on_connect(&t->base, 0);
}

/* Connect side, after the handshake: has the server accepted us? A
 * peek reads the ticket (or a refusal) without taking any data. */
static void link_tls_confirm(struct link_tls *t)
{
	uint8_t b;
	int n = SSL_peek(t->ssl, &b, 1), e;

	if (n > 0 || t->confirmed) {
		ERR_clear_error();
		link_tls_ready(t);
		return;
	}
	e = SSL_get_error(t->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		link_tls_flush(t);
		return;
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
		link_tls_handshake_failed(t, UV_EOF);
		return;
	}
	link_tls_set_error(t, "refused by the server");
	link_tls_handshake_failed(t, UV_EPROTO);
}

/* Decrypt what is buffered into the session's buffers. */
static void link_tls_deliver(struct link_tls *t)
{
	struct link *l = &t->base;

	while (!l->closing && t->reading && !t->failed) {
		uint8_t *p;
		size_t len;
		int n, e;

		l->ev->on_alloc(l, &p, &len);
		if (len == 0)
			return;
		if (len > INT32_MAX)
			len = INT32_MAX;
		n = SSL_read(t->ssl, p, (int)len);
		if (n > 0) {
			l->ev->on_read(l, n);
			continue;
		}
		e = SSL_get_error(t->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			/* Post-handshake messages may want an answer. */
			link_tls_flush(t);
			return;
		}
		if (e == SSL_ERROR_ZERO_RETURN) {
			t->failed = true;
			l->ev->on_read(l, UV_EOF);
			return;
		}
		link_tls_set_error(t, "read failed");
		link_tls_flush(t);
		t->failed = true;
		l->ev->on_read(l, UV_EPROTO);
		return;
	}
}

static void link_tls_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct link_tls *t = h->data;

	b->base = (char *)t->tc->scratch;
	b->len = sizeof(t->tc->scratch);
}

static void link_tls_on_sock_read(uv_stream_t *s, ssize_t nread,
				  const uv_buf_t *b)
{
	struct link_tls *t = s->data;
	struct link *l = &t->base;

	if (nread == 0 || l->closing || t->failed)
		return;
	if (nread < 0) {
		uv_read_stop(s);
		if (!t->base.ready) {
			link_tls_handshake_failed(t, (int)nread);
			return;
		}
		t->failed = true;
		if (t->reading)
			l->ev->on_read(l, nread);
		return;
	}
	/* A memory BIO takes everything (it grows). */
	BIO_write(t->rbio, b->base, (int)nread);
	if (!t->handshaken)
		link_tls_handshake(t);
	else if (!l->ready)
		link_tls_confirm(t);
	if (l->ready)
		link_tls_deliver(t);
}

static int link_tls_read_start(struct link *l)
{
	struct link_tls *t = (struct link_tls *)l;

	/* The socket is read from the start (the handshake needs it);
	 * this lets plaintext through. It is called from on_connect, inside
	 * our read callback, which delivers what is buffered next. */
	t->reading = true;
	return 0;
}

static void link_tls_on_timeout(uv_timer_t *tm)
{
	struct link_tls *t = tm->data;

	if (t->base.closing || t->failed || t->base.ready)
		return;
	if (!t->handshaken)
		link_tls_handshake_failed(t, UV_ETIMEDOUT);
	else
		link_tls_ready(t); /* a server that sends no ticket */
}

/* ---- writes ---------------------------------------------------------- */

/* Ciphertext made but not yet in the kernel. */
static size_t link_tls_backlog(const struct link_tls *t)
{
	return BIO_ctrl_pending(t->wbio) + (t->writing ? t->flylen : 0);
}

static void link_tls_write_done(struct link_tls *t, int status);
static void link_tls_pump(struct link_tls *t);

static void link_tls_on_sock_write(uv_write_t *req, int status)
{
	struct link_tls *t = req->data;

	t->writing = false;
	t->flylen = 0;
	if (t->base.closing)
		return;
	if (status < 0) {
		t->failed = true;
		if (t->wpending)
			link_tls_write_done(t, status);
		return;
	}
	link_tls_flush(t);
	link_tls_pump(t);
}

/* Move ciphertext from wbio to the socket: straight from this turn while
 * the kernel takes it, the rest as one uv_write. */
static void link_tls_flush(struct link_tls *t)
{
	while (!t->writing && !t->base.closing) {
		int n = BIO_read(t->wbio, t->fly, LINK_TLS_FLY);
		uv_buf_t b;
		int rc;

		if (n <= 0)
			return;
		b = uv_buf_init((char *)t->fly, (unsigned)n);
		rc = t->failed ? UV_EPIPE : uv_try_write((uv_stream_t *)&t->tcp, &b, 1);
		if (rc == n)
			continue;
		if (rc < 0 && rc != UV_EAGAIN) {
			/* The session hears of it from the read side or
			 * its next write; drop what cannot be sent. */
			t->failed = true;
			(void)BIO_reset(t->wbio);
			return;
		}
		if (rc < 0)
			rc = 0;
		t->flylen = (size_t)(n - rc);
		memmove(t->fly, t->fly + rc, t->flylen);
		b = uv_buf_init((char *)t->fly, (unsigned)t->flylen);
		t->wreq.data = t;
		if (uv_write(&t->wreq, (uv_stream_t *)&t->tcp, &b, 1,
			     link_tls_on_sock_write) < 0) {
			t->failed = true;
			return;
		}
		t->writing = true;
	}
}

/* Encrypt from iov (n entries, *skip bytes of the first already taken)
 * while the backlog is under its bound. Returns the plaintext bytes
 * taken, or UV_EPROTO. */
static int link_tls_encrypt(struct link_tls *t, const struct iovec *iov,
			    unsigned n)
{
	uint8_t stage[LINK_TLS_RECORD];
	size_t staged = 0, taken = 0;
	unsigned i = 0;
	size_t off = 0;

	while (i < n || staged) {
		const uint8_t *p;
		size_t len;
		int rc;

		if (!staged && link_tls_backlog(t) >= LINK_TLS_BACKLOG)
			break;
		if (i < n && iov[i].iov_len - off == 0) {
			i++;
			off = 0;
			continue;
		}
		if (i < n && !staged && iov[i].iov_len - off >= LINK_TLS_RECORD) {
			/* A big piece goes to SSL_write as it is. */
			p = (const uint8_t *)iov[i].iov_base + off;
			len = LINK_TLS_RECORD;
		} else if (i < n && staged < sizeof(stage)) {
			/* Small pieces (a frame header, a datagram) are
			 * gathered into one record. */
			size_t k = iov[i].iov_len - off;

			if (k > sizeof(stage) - staged)
				k = sizeof(stage) - staged;
			memcpy(stage + staged, (const uint8_t *)iov[i].iov_base + off, k);
			staged += k;
			off += k;
			continue;
		} else {
			p = stage;
			len = staged;
		}
		rc = SSL_write(t->ssl, p, (int)len);
		if (rc <= 0) {
			link_tls_set_error(t, "write failed");
			t->failed = true;
			return UV_EPROTO;
		}
		/* A memory BIO never refuses, so the record went whole. */
		if (p == stage) {
			staged = 0;
		} else {
			off += (size_t)rc;
		}
		taken += (size_t)rc;
	}
	return (int)taken;
}

static int link_tls_try_write(struct link *l, const struct iovec *iov,
			      unsigned n)
{
	struct link_tls *t = (struct link_tls *)l;
	int rc;

	if (t->failed)
		return UV_EPIPE;
	/* Plaintext of a link_write still going in first: keep the order. */
	if (!t->handshaken || t->wpending)
		return UV_EAGAIN;
	rc = link_tls_encrypt(t, iov, n);
	link_tls_flush(t);
	if (rc == 0)
		return UV_EAGAIN;
	return rc;
}

static void link_tls_write_done(struct link_tls *t, int status)
{
	t->wpending = false;
	t->wn = 0;
	t->base.ev->on_write(&t->base, status);
}

/* Feed the pending link_write's plaintext as the backlog allows; it is
 * done once all of it is in the kernel. */
static void link_tls_pump(struct link_tls *t)
{
	int rc;

	if (!t->wpending)
		return;
	rc = link_tls_encrypt(t, t->wv, t->wn);
	if (rc < 0) {
		link_tls_write_done(t, rc);
		return;
	}
	/* Drop what was taken from the front of the vector. */
	for (size_t left = (size_t)rc; left && t->wn;) {
		if (t->wv[0].iov_len <= left) {
			left -= t->wv[0].iov_len;
			memmove(t->wv, t->wv + 1, --t->wn * sizeof(*t->wv));
		} else {
			t->wv[0].iov_base = (uint8_t *)t->wv[0].iov_base + left;
			t->wv[0].iov_len -= left;
			left = 0;
		}
	}
	while (t->wn && t->wv[0].iov_len == 0)
		memmove(t->wv, t->wv + 1, --t->wn * sizeof(*t->wv));
	link_tls_flush(t);
	if (t->wn == 0 && !t->writing && BIO_ctrl_pending(t->wbio) == 0)
		link_tls_write_done(t, t->failed ? UV_EPIPE : 0);
}

static int link_tls_write(struct link *l, const struct iovec *iov, unsigned n)
{
	struct link_tls *t = (struct link_tls *)l;
	int rc;

	if (t->failed)
		return UV_EPIPE;
	if (t->wpending || !t->handshaken)
		return UV_EBUSY;
	if (n > t->wcap) {
		t->wcap = n;
		t->wv = xrealloc(t->wv, n * sizeof(*t->wv));
	}
	memcpy(t->wv, iov, n * sizeof(*iov));
	t->wn = n;
	t->wpending = true;
	/* Take what fits now, but finish only from a write callback, so
	 * on_write never runs inside link_write. */
	rc = link_tls_encrypt(t, t->wv, t->wn);
	if (rc < 0) {
		t->wpending = false;
		return rc;
	}
	for (size_t left = (size_t)rc; left && t->wn;) {
		if (t->wv[0].iov_len <= left) {
			left -= t->wv[0].iov_len;
			memmove(t->wv, t->wv + 1, --t->wn * sizeof(*t->wv));
		} else {
			t->wv[0].iov_base = (uint8_t *)t->wv[0].iov_base + left;
			t->wv[0].iov_len -= left;
			left = 0;
		}
	}
	if (!t->writing) {
		/* Hand the ciphertext to one uv_write, whose callback
		 * completes (or continues) this write. */
		int m = BIO_read(t->wbio, t->fly, LINK_TLS_FLY);
		uv_buf_t b;

		if (m <= 0) {
			t->wpending = false;
			return UV_EPROTO;
		}
		t->flylen = (size_t)m;
		b = uv_buf_init((char *)t->fly, (unsigned)m);
		t->wreq.data = t;
		rc = uv_write(&t->wreq, (uv_stream_t *)&t->tcp, &b, 1,
			      link_tls_on_sock_write);
		if (rc < 0) {
			t->wpending = false;
			return rc;
		}
		t->writing = true;
	}
	return 0;
}

static void link_tls_set_buffers(struct link *l, uint32_t sndbuf,
				 uint32_t rcvbuf)
{
	struct link_tls *t = (struct link_tls *)l;
	int v;

	if (sndbuf) {
		v = (int)sndbuf;
		uv_send_buffer_size((uv_handle_t *)&t->tcp, &v);
	}
	if (rcvbuf) {
		v = (int)rcvbuf;
		uv_recv_buffer_size((uv_handle_t *)&t->tcp, &v);
	}
}

/* ---- connect, accept, close ------------------------------------------ */

/* The TCP connection is up: start the TLS side of it. */
static int link_tls_opened(struct link_tls *t)
{
	link_tcp_socket_options(&t->tcp);
	uv_timer_start(&t->timer, link_tls_on_timeout, LINK_TLS_HANDSHAKE_MS, 0);
	return uv_read_start((uv_stream_t *)&t->tcp, link_tls_on_alloc,
			     link_tls_on_sock_read);
}

static void link_tls_on_connect(uv_connect_t *req, int status)
{
	struct link_tls *t = req->data;

	if (t->base.closing)
		return;
	if (status == 0)
		status = link_tls_opened(t);
	if (status < 0) {
		t->base.ev->on_connect(&t->base, status);
		return;
	}
	SSL_set_connect_state(t->ssl);
	link_tls_handshake(t); /* the ClientHello */
}

static int link_tls_connect(struct link *l, const struct sockaddr *sa)
{
	struct link_tls *t = (struct link_tls *)l;

	addr_format(sa, l->peer, sizeof(l->peer));
	t->creq.data = t;
	return uv_tcp_connect(&t->creq, &t->tcp, sa, link_tls_on_connect);
}

static void link_tls_on_closed(uv_handle_t *h)
{
	struct link_tls *t = h->data;

	if (--t->handles > 0)
		return;
	if (t->base.ev && t->base.ev->on_close)
		t->base.ev->on_close(&t->base);
	SSL_free(t->ssl); /* and both BIOs */
	tls_ctx_unref(t->tc);
	free(t->fly);
	free(t->wv);
	free(t);
}

static void link_tls_close(struct link *l)
{
	struct link_tls *t = (struct link_tls *)l;

	/* A close_notify, if it goes out at once; nothing waits for it. */
	if (t->handshaken && !t->failed && !t->writing) {
		uv_buf_t b;
		int n;

		(void)SSL_shutdown(t->ssl);
		n = BIO_read(t->wbio, t->fly, LINK_TLS_FLY);
		if (n > 0) {
			b = uv_buf_init((char *)t->fly, (unsigned)n);
			(void)uv_try_write((uv_stream_t *)&t->tcp, &b, 1);
		}
	}
	ERR_clear_error();
	uv_close((uv_handle_t *)&t->timer, link_tls_on_closed);
	uv_close((uv_handle_t *)&t->tcp, link_tls_on_closed);
}

static struct link *link_tls_create(uv_loop_t *loop,
				    const struct link_conf *conf)
{
	return &link_tls_new(loop, conf)->base;
}

static struct link *link_tls_accept_create(struct listener *ls,
					   uv_tcp_t **tcp)
{
	struct link_tls *t = link_tls_new(ls->loop, &ls->conf);

	*tcp = &t->tcp;
	return &t->base;
}

static void link_tls_accepted(struct listener *ls, struct link *l)
{
	struct link_tls *t = (struct link_tls *)l;

	SSL_set_accept_state(t->ssl);
	/* Not ready until the handshake is done: conn_accept waits for
	 * on_connect. */
	listener_accepted(ls, &t->base);
	if (!t->base.closing && link_tls_opened(t) < 0)
		link_tls_handshake_failed(t, UV_EPROTO);
}

static const struct link_tcp_accept link_tls_accept_ops = {
	.create = link_tls_accept_create,
	.accepted = link_tls_accepted,
};

static int link_tls_listen(struct listener *ls)
{
	return link_tcp_listen_on(ls, &link_tls_accept_ops);
}

const struct link_ops link_tls_ops = {
	.name = "tls",
	.caps = LINK_CAP_STREAM,
	.conf_open = link_tls_conf_open,
	.conf_reload = link_tls_conf_reload,
	.conf_close = link_tls_conf_close,
	.listen = link_tls_listen,
	.listen_close = link_tcp_listen_close,
	.create = link_tls_create,
	.connect = link_tls_connect,
	.read_start = link_tls_read_start,
	.try_write = link_tls_try_write,
	.write = link_tls_write,
	.set_buffers = link_tls_set_buffers,
	.close = link_tls_close,
};

static struct link_tls *link_tls_new(uv_loop_t *loop,
				     const struct link_conf *conf)
{
	struct link_tls *t = xcalloc(1, sizeof(*t));
	struct tls_endpoint *ep = conf->tctx;

	link_init(&t->base, &link_tls_ops, conf, loop);
	uv_tcp_init(loop, &t->tcp);
	uv_timer_init(loop, &t->timer);
	t->tcp.data = t;
	t->timer.data = t;
	t->handles = 2;
	t->tc = ep->cur;
	t->tc->refs++;
	t->fly = xmalloc(LINK_TLS_FLY);
	t->ssl = SSL_new(t->tc->ctx);
	if (!t->ssl)
		fatal(1, "tls: SSL_new failed (out of memory)");
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (!t->rbio || !t->wbio)
		fatal(1, "tls: BIO_new failed (out of memory)");
	/* An empty memory BIO says "retry", not EOF. */
	BIO_set_mem_eof_return(t->rbio, -1);
	BIO_set_mem_eof_return(t->wbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	SSL_set_app_data(t->ssl, t);
	return t;
}
