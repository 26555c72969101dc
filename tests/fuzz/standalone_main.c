/*
 * standalone_main.c - runs a fuzz target without libFuzzer: replays every
 * file under the corpus directories given as arguments, then a bounded
 * number of pseudo-random inputs (fixed seed, so a failure reproduces),
 * including mutations of the corpus. Exit 0 when nothing crashed.
 * A first argument --runs=N sets how many generated inputs (default
 * RANDOM_RUNS), for targets whose inputs are slow to run. With
 * FUZZ_SAVE=FILE each generated input is written to FILE before it runs,
 * so a crash leaves it there.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RANDOM_RUNS 200000
#define FUZZ_MAX_INPUT 4096

static uint8_t *inputs[256];
static size_t input_len[256];
static int ninputs;

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d) {
		perror(dir);
		return -1;
	}
	while ((e = readdir(d))) {
		char path[4096];
		uint8_t *buf;
		size_t len;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		buf = malloc(FUZZ_MAX_INPUT);
		len = buf ? fread(buf, 1, FUZZ_MAX_INPUT, f) : 0;
		fclose(f);
		if (!buf)
			continue;
		LLVMFuzzerTestOneInput(buf, len);
		n++;
		if (ninputs < 256) {
			inputs[ninputs] = buf;
			input_len[ninputs++] = len;
		} else {
			free(buf);
		}
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	static uint8_t buf[FUZZ_MAX_INPUT];
	int replayed = 0, runs = RANDOM_RUNS, first = 1;
	const char *save = getenv("FUZZ_SAVE");

	if (argc > 1 && strncmp(argv[1], "--runs=", 7) == 0) {
		runs = atoi(argv[1] + 7);
		first = 2;
	}
	for (int i = first; i < argc; i++) {
		int n = replay_dir(argv[i]);

		if (n < 0)
			return 1;
		replayed += n;
	}
	for (int run = 0; run < runs; run++) {
		size_t len;

		if (ninputs && run % 2) {
			/* mutate a corpus entry: flip, insert NULs, truncate */
			int k = (int)(next_rand() % (uint64_t)ninputs);

			len = input_len[k];
			memcpy(buf, inputs[k], len);
			for (int m = 0; m < 4 && len; m++) {
				size_t at = next_rand() % len;

				switch (next_rand() % 3) {
				case 0: buf[at] ^= (uint8_t)(1u << (next_rand() % 8)); break;
				case 1: buf[at] = (uint8_t)"=\0,x9"[next_rand() % 5]; break;
				case 2: len = at + 1; break;
				}
			}
		} else {
			len = next_rand() % 600;
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)next_rand();
		}
		if (save) {
			/* the input about to run, left behind by a crash */
			FILE *f = fopen(save, "wb");

			if (f) {
				fwrite(buf, 1, len, f);
				fclose(f);
			}
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	for (int i = 0; i < ninputs; i++)
		free(inputs[i]);
	printf("fuzz: %d corpus inputs and %d generated inputs, no crash\n",
	       replayed, runs);
	return 0;
}
