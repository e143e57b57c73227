/* Test client for cpgipc: joins a group through Debian's libcpg, prints
 * every callback on stdout in a fixed line format, multicasts N short
 * messages (and one of BIG bytes, which libcpg splits into partial
 * multicasts) once its own join is confirmed, prints READY, keeps
 * printing callbacks until a line arrives on stdin, then leaves and
 * reports the confchg that confirms the leave.
 *
 * usage: cpgclient GROUP N [BIG]
 */
#include <corosync/cpg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int joined, left, delivered, totems;
static unsigned int mypid;

static void print_list(const char *what, const struct cpg_address *l, size_t n)
{
	size_t i;
	printf(" %s=", what);
	for (i = 0; i < n; i++)
		printf("%s%u:%u:%u", i ? "," : "", l[i].nodeid, l[i].pid == mypid ? 0 : l[i].pid, l[i].reason);
}

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 % 251); }

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg, size_t len)
{
	size_t i;
	const unsigned char *p = msg;
	if (len > 64) {
		for (i = 0; i < len && p[i] == pattern(i); i++)
			;
		printf("DELIVER group=%.*s from=%u:%s len=%zu data=%s\n", (int)g->length, g->value, nodeid,
		       pid == mypid ? "self" : "other", len, i == len ? "pattern-ok" : "pattern-BAD");
	} else {
		printf("DELIVER group=%.*s from=%u:%s len=%zu data=%.*s\n", (int)g->length, g->value, nodeid,
		       pid == mypid ? "self" : "other", len, (int)len, (char *)msg);
	}
	if (pid == mypid)
		delivered++;
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g,
		       const struct cpg_address *m, size_t nm,
		       const struct cpg_address *l, size_t nl,
		       const struct cpg_address *j, size_t nj)
{
	size_t i;
	printf("CONFCHG group=%.*s", (int)g->length, g->value);
	print_list("members", m, nm);
	print_list("left", l, nl);
	print_list("joined", j, nj);
	printf("\n");
	for (i = 0; i < nj; i++)
		if (j[i].pid == mypid)
			joined = 1;
	for (i = 0; i < nl; i++)
		if (l[i].pid == mypid)
			left = 1;
}

static void on_totem(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n, const uint32_t *members)
{
	uint32_t i;
	printf("TOTEM ring=%x.%llx members=", ring.nodeid, (unsigned long long)ring.seq);
	for (i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", members[i]);
	printf("\n");
	totems++;
}

static int pump(cpg_handle_t h, int *flag, int want)
{
	int fd;
	struct pollfd p;
	cpg_fd_get(h, &fd);
	while (*flag < want) {
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, 5000) <= 0) {
			printf("TIMEOUT\n");
			return -1;
		}
		if (cpg_dispatch(h, CS_DISPATCH_ALL) != CS_OK) {
			printf("DISPATCH-ERROR\n");
			return -1;
		}
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	cpg_handle_t h;
	cpg_model_v1_data_t model = {0};
	struct cpg_name g;
	unsigned int nodeid;
	int i, n, err;
	char line[64];
	struct iovec iov;
	char buf[64];

	size_t big = 0;

	if (argc != 3 && argc != 4)
		return 1;
	if (argc == 4)
		big = strtoul(argv[3], NULL, 10);
	setvbuf(stdout, NULL, _IOLBF, 0);
	mypid = getpid();
	n = atoi(argv[2]);
	model.model = CPG_MODEL_V1;
	model.cpg_deliver_fn = on_deliver;
	model.cpg_confchg_fn = on_confchg;
	model.cpg_totem_confchg_fn = on_totem;
	model.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF;
	if ((err = cpg_model_initialize(&h, CPG_MODEL_V1, (cpg_model_data_t *)&model, NULL)) != CS_OK) {
		printf("INIT-ERROR %d\n", err);
		return 1;
	}
	if ((err = cpg_local_get(h, &nodeid)) != CS_OK) {
		printf("LOCAL-GET-ERROR %d\n", err);
		return 1;
	}
	printf("LOCAL nodeid=%u\n", nodeid);
	g.length = strlen(argv[1]);
	memcpy(g.value, argv[1], g.length);
	if ((err = cpg_join(h, &g)) != CS_OK) {
		printf("JOIN-ERROR %d\n", err);
		return 1;
	}
	/* The TOTEM_CONFCHG may trail the CONFCHG in the event ring. */
	if (pump(h, &joined, 1) || pump(h, &totems, 1))
		return 1;
	{
		struct cpg_address m[8];
		int nm = 8;
		if ((err = cpg_membership_get(h, &g, m, &nm)) != CS_OK) {
			printf("MEMBERSHIP-ERROR %d\n", err);
			return 1;
		}
		printf("MEMBERSHIP n=%d", nm);
		print_list("list", m, nm);
		printf("\n");
	}
	for (i = 0; i < n; i++) {
		iov.iov_base = buf;
		iov.iov_len = snprintf(buf, sizeof(buf), "msg-%d", i);
		while ((err = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1)) == CS_ERR_TRY_AGAIN)
			usleep(1000);
		if (err != CS_OK) {
			printf("MCAST-ERROR %d\n", err);
			return 1;
		}
	}
	if (big) {
		unsigned char *b = malloc(big);
		size_t k;
		for (k = 0; k < big; k++)
			b[k] = pattern(k);
		iov.iov_base = b;
		iov.iov_len = big;
		while ((err = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1)) == CS_ERR_TRY_AGAIN)
			usleep(1000);
		if (err != CS_OK) {
			printf("MCAST-BIG-ERROR %d\n", err);
			return 1;
		}
		free(b);
		n++;
	}
	if (pump(h, &delivered, n))
		return 1;
	printf("READY\n");
	/* Keep reporting callbacks until told to leave. */
	for (;;) {
		struct pollfd p[2];
		int fd;
		cpg_fd_get(h, &fd);
		p[0].fd = 0;
		p[0].events = POLLIN;
		p[1].fd = fd;
		p[1].events = POLLIN;
		if (poll(p, 2, 10000) <= 0) {
			printf("TIMEOUT\n");
			return 1;
		}
		if (p[1].revents) {
			if (cpg_dispatch(h, CS_DISPATCH_ALL) != CS_OK) {
				printf("DISPATCH-ERROR\n");
				return 1;
			}
			continue;
		}
		if (p[0].revents)
			break;
	}
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	if ((err = cpg_leave(h, &g)) != CS_OK) {
		printf("LEAVE-ERROR %d\n", err);
		return 1;
	}
	if (pump(h, &left, 1))
		return 1;
	cpg_finalize(h);
	printf("DONE\n");
	return 0;
}
