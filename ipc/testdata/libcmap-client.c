/*
 * Test-only libcmap client for ringfence's IPC tests (built by the Go test
 * with gcc -lcmap when libcmap-dev is installed).
 *
 *   libcmap-client check     exercise get/set/iter against the test store
 *   libcmap-client bench N [key]   time N cmap_get_uint32 calls
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <corosync/cmap.h>

static cmap_handle_t connect_retry(void)
{
	cmap_handle_t h;
	cs_error_t err;
	for (int i = 0; i < 50; i++) {
		err = cmap_initialize(&h);
		if (err == CS_OK)
			return h;
		usleep(100000);
	}
	fprintf(stderr, "cmap_initialize: %d\n", err);
	exit(2);
}

static int check(cmap_handle_t h)
{
	uint32_t u32;
	char *str = NULL;
	uint8_t u8;
	cs_error_t err;
	cmap_iter_handle_t it;
	char key[CMAP_KEYNAME_MAXLEN + 1];
	size_t len;
	cmap_value_types_t type;
	int n = 0;

	if ((err = cmap_get_uint32(h, "test.types.u32", &u32)) != CS_OK) {
		printf("get u32: %d\n", err);
		return 1;
	}
	printf("u32 %u\n", u32);
	if ((err = cmap_get_string(h, "test.types.str", &str)) != CS_OK) {
		printf("get str: %d\n", err);
		return 1;
	}
	printf("str %s\n", str);
	free(str);
	if ((err = cmap_set_uint8(h, "ringfence.from_c", 9)) != CS_OK) {
		printf("set: %d\n", err);
		return 1;
	}
	if ((err = cmap_get_uint8(h, "ringfence.from_c", &u8)) != CS_OK || u8 != 9) {
		printf("get back: %d %u\n", err, u8);
		return 1;
	}
	printf("u8 %u\n", u8);
	err = cmap_get_uint8(h, "test.types.u32", &u8);
	printf("wrong type %d\n", err);
	err = cmap_get_uint32(h, "no.such.key", &u32);
	printf("missing %d\n", err);
	if ((err = cmap_iter_init(h, "test.types.", &it)) != CS_OK) {
		printf("iter init: %d\n", err);
		return 1;
	}
	while (cmap_iter_next(h, it, key, &len, &type) == CS_OK)
		n++;
	cmap_iter_finalize(h, it);
	printf("iter %d\n", n);
	printf("OK\n");
	return 0;
}

static int bench(cmap_handle_t h, long n, const char *key)
{
	struct timespec a, b;
	uint32_t v;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		if (cmap_get_uint32(h, key, &v) != CS_OK) {
			printf("get failed at %ld\n", i);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%ld gets in %.3f s: %.0f req/s\n", n, s, n / s);
	return 0;
}

int main(int argc, char **argv)
{
	cmap_handle_t h;
	int rc;
	if (argc < 2)
		return 2;
	h = connect_retry();
	if (strcmp(argv[1], "check") == 0)
		rc = check(h);
	else
		rc = bench(h, argc > 2 ? atol(argv[2]) : 10000, argc > 3 ? argv[3] : "test.types.u32");
	cmap_finalize(h);
	return rc;
}
