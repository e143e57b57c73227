/* cpgbench written against libcpg: the same measurement as the Go
 * cpgbench (one sender, N multicasts in flight, latency from
 * cpg_mcast_joined to the sender's own delivery), single threaded, with
 * the same output line per size.
 *
 * usage: cpgbench-c SIZES INFLIGHT SECONDS      e.g. 100,1024,10240 64 5
 */
#include <corosync/cpg.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HDR 20

static uint32_t run_id, mypid;
static int inflight, measured;
static double *lat;
static size_t nlat, caplat;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg, size_t len)
{
	uint32_t r;
	double sent;
	if (pid != mypid || len < HDR)
		return;
	memcpy(&r, msg, 4);
	if (r != run_id)
		return;
	memcpy(&sent, (char *)msg + 12, 8);
	if (measured) {
		if (nlat == caplat) {
			caplat = caplat ? caplat * 2 : 65536;
			lat = realloc(lat, caplat * sizeof *lat);
		}
		lat[nlat++] = now_s() - sent;
	}
	inflight--;
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g,
		       const struct cpg_address *m, size_t nm,
		       const struct cpg_address *l, size_t nl,
		       const struct cpg_address *j, size_t nj) {}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int pump(cpg_handle_t h, int fd, int wait_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, wait_ms) < 0)
		return -1;
	if (p.revents & POLLIN)
		return cpg_dispatch(h, CS_DISPATCH_ALL) == CS_OK ? 0 : -1;
	return 0;
}

int main(int argc, char **argv)
{
	cpg_handle_t h;
	cpg_model_v1_data_t model = {.model = CPG_MODEL_V1, .cpg_deliver_fn = on_deliver, .cpg_confchg_fn = on_confchg};
	struct cpg_name group = {.length = 8};
	int fd, max_inflight;
	double secs;
	char *sizes, *tok;
	cs_error_t err;

	if (argc != 4) {
		fprintf(stderr, "usage: %s SIZES INFLIGHT SECONDS\n", argv[0]);
		return 2;
	}
	sizes = argv[1];
	max_inflight = atoi(argv[2]);
	secs = atof(argv[3]);
	memcpy(group.value, "cpgbench", 8);
	mypid = getpid();
	if ((err = cpg_model_initialize(&h, CPG_MODEL_V1, (cpg_model_data_t *)&model, NULL)) != CS_OK) {
		fprintf(stderr, "cpg_model_initialize: %d\n", err);
		return 1;
	}
	cpg_fd_get(h, &fd);
	while ((err = cpg_join(h, &group)) == CS_ERR_TRY_AGAIN)
		usleep(10000);
	if (err != CS_OK) {
		fprintf(stderr, "cpg_join: %d\n", err);
		return 1;
	}
	for (tok = strtok(sizes, ","); tok; tok = strtok(NULL, ",")) {
		size_t size = atoi(tok), n;
		char *msg;
		double warm, start = 0, end = 0, t, elapsed, drain;
		uint64_t seq = 0;
		struct iovec iov;

		msg = calloc(1, size < HDR ? HDR : size);
		iov.iov_base = msg;
		iov.iov_len = size < HDR ? HDR : size;
		run_id++;
		memcpy(msg, &run_id, 4);
		measured = 0;
		nlat = 0;
		inflight = 0;
		warm = now_s() + (secs / 5 < 1 ? secs / 5 : 1);
		for (;;) {
			t = now_s();
			if (start == 0 && t > warm) {
				measured = 1;
				nlat = 0;
				start = t;
				end = t + secs;
			}
			if (start != 0 && t > end)
				break;
			if (inflight >= max_inflight) {
				if (pump(h, fd, 1000) < 0)
					return 1;
				continue;
			}
			memcpy(msg + 4, &seq, 8);
			t = now_s();
			memcpy(msg + 12, &t, 8);
			err = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1);
			if (err == CS_ERR_TRY_AGAIN) {
				if (pump(h, fd, 1) < 0)
					return 1;
				continue;
			}
			if (err != CS_OK) {
				fprintf(stderr, "cpg_mcast_joined: %d\n", err);
				return 1;
			}
			seq++;
			inflight++;
			if (pump(h, fd, 0) < 0)
				return 1;
		}
		elapsed = now_s() - start;
		measured = 0;
		n = nlat;
		drain = now_s() + 30;
		while (inflight > 0 && now_s() < drain)
			if (pump(h, fd, 100) < 0)
				return 1;
		qsort(lat, n, sizeof *lat, cmp);
		printf("size=%zu msgs=%zu msg/s=%.1f MB/s=%.2f p50=%.3fms p99=%.3fms\n", size, n, n / elapsed,
		       n / elapsed * size / 1e6, n ? lat[n / 2] * 1e3 : 0, n ? lat[(n * 99 / 100 < n - 1) ? n * 99 / 100 : n - 1] * 1e3 : 0);
		fflush(stdout);
		free(msg);
	}
	cpg_finalize(h);
	return 0;
}
