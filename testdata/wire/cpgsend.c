/*
 * cpgsend: join a CPG group, multicast one message of each size given on
 * the command line, wait until each has come back in agreed order, leave.
 * Used by capture.sh to put service traffic of many sizes on a real
 * Corosync ring (small messages packed, large ones fragmented).
 *
 * build: gcc -O2 -o /tmp/cpgsend cpgsend.c -lcpg
 * usage: cpgsend GROUP SIZE...
 */
#include <corosync/cpg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int delivered;

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid,
		       uint32_t pid, void *msg, size_t len)
{
	(void)h; (void)g; (void)msg;
	if (pid == (uint32_t)getpid())
		delivered++;
	printf("delivered %zu bytes from %u/%u\n", len, nodeid, pid);
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g,
		       const struct cpg_address *m, size_t nm,
		       const struct cpg_address *l, size_t nl,
		       const struct cpg_address *j, size_t nj)
{
	(void)h; (void)g; (void)m; (void)l; (void)j;
	printf("confchg members=%zu left=%zu joined=%zu\n", nm, nl, nj);
}

int main(int argc, char **argv)
{
	cpg_callbacks_t cb = { .cpg_deliver_fn = on_deliver, .cpg_confchg_fn = on_confchg };
	cpg_handle_t h;
	struct cpg_name name;
	int fd, i, want = argc - 2;

	if (argc < 3) {
		fprintf(stderr, "usage: cpgsend GROUP SIZE...\n");
		return 2;
	}
	if (cpg_initialize(&h, &cb) != CS_OK) {
		fprintf(stderr, "cpg_initialize failed\n");
		return 1;
	}
	name.length = strlen(argv[1]);
	memcpy(name.value, argv[1], name.length);
	while (cpg_join(h, &name) == CS_ERR_TRY_AGAIN)
		usleep(100000);
	cpg_fd_get(h, &fd);
	for (i = 2; i < argc; i++) {
		size_t len = strtoul(argv[i], NULL, 10);
		char *buf = malloc(len ? len : 1);
		struct iovec iov = { .iov_base = buf, .iov_len = len };
		memset(buf, 'a' + (i % 26), len);
		while (cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1) == CS_ERR_TRY_AGAIN)
			usleep(10000);
		free(buf);
	}
	while (delivered < want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) <= 0) {
			fprintf(stderr, "timed out with %d of %d delivered\n", delivered, want);
			return 1;
		}
		cpg_dispatch(h, CS_DISPATCH_ALL);
	}
	cpg_leave(h, &name);
	cpg_finalize(h);
	return 0;
}
