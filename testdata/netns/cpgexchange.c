/* cpgexchange: one libcpg client of a cluster-wide exchange. It joins
 * GROUP, waits until the group has MEMBERS processes (so every message it
 * sends is ordered after the confchg that made everyone a member), sends
 * COUNT messages "<nodeid>-<i>" with CPG_TYPE_AGREED, and prints every
 * message the group delivers, in delivery order, until it has seen
 * MEMBERS*COUNT of them. The test compares the printed orders across
 * nodes. Exit 0 after "DONE"; 1 with a reason on any error or when
 * nothing happens for 20 s.
 *
 * usage: cpgexchange GROUP MEMBERS COUNT
 */
#include <corosync/cpg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t members;
static long delivered;

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg, size_t len)
{
	printf("DELIVER from=%u data=%.*s\n", nodeid, (int)len, (char *)msg);
	delivered++;
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g,
		       const struct cpg_address *m, size_t nm,
		       const struct cpg_address *l, size_t nl,
		       const struct cpg_address *j, size_t nj)
{
	printf("CONFCHG members=%zu\n", nm);
	members = nm;
}

/* pump dispatches until *value reaches want. */
static int pump(cpg_handle_t h, void *value, int is_long, long want)
{
	int fd;
	struct pollfd p;
	cpg_fd_get(h, &fd);
	for (;;) {
		long v = is_long ? *(long *)value : (long)*(size_t *)value;
		if (v >= want)
			return 0;
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, 20000) <= 0) {
			printf("TIMEOUT at %ld of %ld\n", v, want);
			return -1;
		}
		if (cpg_dispatch(h, CS_DISPATCH_ALL) != CS_OK) {
			printf("DISPATCH-ERROR\n");
			return -1;
		}
	}
}

int main(int argc, char **argv)
{
	cpg_handle_t h;
	cpg_model_v1_data_t model = {0};
	struct cpg_name g;
	unsigned int nodeid;
	long want_members, count, i;
	int err;
	char buf[64];
	struct iovec iov;

	if (argc != 4) {
		fprintf(stderr, "usage: cpgexchange GROUP MEMBERS COUNT\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	want_members = atol(argv[2]);
	count = atol(argv[3]);
	model.model = CPG_MODEL_V1;
	model.cpg_deliver_fn = on_deliver;
	model.cpg_confchg_fn = on_confchg;
	/* The daemon may still be syncing: libcpg says TRY_AGAIN then. */
	for (i = 0; (err = cpg_model_initialize(&h, CPG_MODEL_V1, (cpg_model_data_t *)&model, NULL)) != CS_OK; i++) {
		if (i == 200) {
			printf("INIT-ERROR %d\n", err);
			return 1;
		}
		usleep(100000);
	}
	if ((err = cpg_local_get(h, &nodeid)) != CS_OK) {
		printf("LOCAL-GET-ERROR %d\n", err);
		return 1;
	}
	printf("LOCAL nodeid=%u\n", nodeid);
	g.length = strlen(argv[1]);
	memcpy(g.value, argv[1], g.length);
	while ((err = cpg_join(h, &g)) == CS_ERR_TRY_AGAIN)
		usleep(10000);
	if (err != CS_OK) {
		printf("JOIN-ERROR %d\n", err);
		return 1;
	}
	if (pump(h, &members, 0, want_members))
		return 1;
	for (i = 0; i < count; i++) {
		iov.iov_base = buf;
		iov.iov_len = snprintf(buf, sizeof(buf), "%u-%ld", nodeid, i);
		while ((err = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1)) == CS_ERR_TRY_AGAIN)
			usleep(1000);
		if (err != CS_OK) {
			printf("MCAST-ERROR %d\n", err);
			return 1;
		}
	}
	if (pump(h, &delivered, 1, want_members * count))
		return 1;
	printf("DONE\n");
	cpg_finalize(h);
	return 0;
}
