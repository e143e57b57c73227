/* Test client for vqipc: connects with libquorum's V1 model and with
 * libvotequorum, asks for the current state (CS_TRACK_CURRENT) and
 * prints every notification in a fixed line format, so that the list
 * offsets of the V1 and votequorum notifications are checked by the real
 * libraries. Exits 0 when all four notifications were seen.
 */
#include <corosync/quorum.h>
#include <corosync/votequorum.h>
#include <stdio.h>

static int seen;

static void print_ids(const char *what, uint32_t n, const uint32_t *l)
{
	uint32_t i;
	printf(" %s=", what);
	for (i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", l[i]);
}

static void q_quorum(quorum_handle_t h, uint32_t quorate, struct quorum_ring_id ring, uint32_t n, const uint32_t *l)
{
	printf("Q1-QUORUM quorate=%u ring=%x.%llx", quorate, ring.nodeid, (unsigned long long)ring.seq);
	print_ids("members", n, l);
	printf("\n");
	seen++;
}

static void q_nodelist(quorum_handle_t h, struct quorum_ring_id ring, uint32_t n, const uint32_t *m,
		       uint32_t nj, const uint32_t *j, uint32_t nl, const uint32_t *l)
{
	printf("Q1-NODELIST ring=%x.%llx", ring.nodeid, (unsigned long long)ring.seq);
	print_ids("members", n, m);
	print_ids("joined", nj, j);
	print_ids("left", nl, l);
	printf("\n");
	seen++;
}

static void vq_quorum(votequorum_handle_t h, uint64_t ctx, uint32_t quorate, uint32_t n, votequorum_node_t l[])
{
	uint32_t i;
	printf("VQ-QUORUM ctx=%llx quorate=%u nodes=", (unsigned long long)ctx, quorate);
	for (i = 0; i < n; i++)
		printf("%s%u:%u", i ? "," : "", l[i].nodeid, l[i].state);
	printf("\n");
	seen++;
}

static void vq_nodelist(votequorum_handle_t h, uint64_t ctx, votequorum_ring_id_t ring, uint32_t n, uint32_t l[])
{
	printf("VQ-NODELIST ctx=%llx ring=%x.%llx", (unsigned long long)ctx, ring.nodeid, (unsigned long long)ring.seq);
	print_ids("members", n, l);
	printf("\n");
	seen++;
}

int main(void)
{
	quorum_handle_t q;
	votequorum_handle_t v;
	quorum_model_v1_data_t model = {0};
	votequorum_callbacks_t cb = {0};
	uint32_t type;
	int err, tries;

	model.model = QUORUM_MODEL_V1;
	model.quorum_notify_fn = q_quorum;
	model.nodelist_notify_fn = q_nodelist;
	if ((err = quorum_model_initialize(&q, QUORUM_MODEL_V1, (quorum_model_data_t *)&model, &type, NULL)) != CS_OK) {
		printf("QUORUM-INIT-ERROR %d\n", err);
		return 1;
	}
	printf("TYPE %u\n", type);
	cb.votequorum_quorum_notify_fn = vq_quorum;
	cb.votequorum_nodelist_notify_fn = vq_nodelist;
	if ((err = votequorum_initialize(&v, &cb)) != CS_OK) {
		printf("VQ-INIT-ERROR %d\n", err);
		return 1;
	}
	if ((err = quorum_trackstart(q, CS_TRACK_CURRENT)) != CS_OK ||
	    (err = votequorum_trackstart(v, 0xabc, CS_TRACK_CURRENT)) != CS_OK) {
		printf("TRACKSTART-ERROR %d\n", err);
		return 1;
	}
	/* The events precede the trackstart responses, so they are queued. */
	for (tries = 0; tries < 100 && seen < 4; tries++) {
		quorum_dispatch(q, CS_DISPATCH_ALL);
		votequorum_dispatch(v, CS_DISPATCH_ALL);
	}
	quorum_finalize(q);
	votequorum_finalize(v);
	return seen == 4 ? 0 : 1;
}
