# descent - build the library, the command and the tests into build/.
#   make            libraries (static + shared), the descent command, examples
#   make check      build and run every test; ends with "N passed, N failed"
#   make check SANITIZE=1   the same under AddressSanitizer + UBSan
#   make bench      benchmarks (on demand, never in CI's test run)
#   make fuzz       build every fuzz/fuzz_NAME.c with clang's libFuzzer into build-fuzz/ and
#                   run each for FUZZ_SECONDS [60] on fuzz/corpus/NAME/
# Libraries: libdescent (src/*.c: libc and libm only) and libdescent_io (src/io/*.c: model
# files, needs Jansson); the command and the tests link both.
# Missing Debian packages are installed first by scripts/deps.sh (only when absent).

CC      ?= cc
BUILD   ?= build
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wdouble-promotion -Wstrict-prototypes
CFLAGS  ?= -O2 -g
# -ffp-contract=off: no silent fused multiply-adds, so the portable kernels give the
# reference bits on every machine (the vector kernels fuse explicitly)
CFLAGS  += -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) -ffp-contract=off -Iinclude -fPIC -MMD -MP
LDLIBS  := -lm -lpthread
# gcc's -O2 vectorizes only loops with known trip counts; for the optimizer's elementwise
# updates, the portable kernels and the bias gradient (dense_run.c: 6.7-7.6 us a step on
# the W2 model, 3.7-4.6 us this way), let it version loops for aliasing and add epilogues
# (as clang's -O2 does), which changes no element's operations. Not everywhere: for tiny
# models the run-time checks cost more than they save.
VECT_CHEAP := $(shell $(CC) -fvect-cost-model=cheap -E -x c /dev/null >/dev/null 2>&1 && \
                echo -fvect-cost-model=cheap)
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
BUILD   := build-san
endif
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif

# Optional parts of the command, found with pkg-config (libcsv ships no .pc file).
CSV_LIBS := $(shell pkg-config --libs libcsv 2>/dev/null || echo -lcsv)
INI_CFLAGS := $(shell pkg-config --cflags inih 2>/dev/null)
INI_LIBS := $(shell pkg-config --libs inih 2>/dev/null || echo -linih)
ZLIB_LIBS := $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
CLI_LIBS := $(CSV_LIBS) $(INI_LIBS) $(ZLIB_LIBS) -lpthread -lm
JANSSON_CFLAGS := $(shell pkg-config --cflags jansson 2>/dev/null)
JANSSON_LIBS := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)

LIB_SRC  := $(wildcard src/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
IO_SRC   := $(wildcard src/io/*.c)
IO_OBJ   := $(IO_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(wildcard cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
CLI_LIB_OBJ := $(filter-out $(BUILD)/cli/main.o,$(CLI_OBJ))
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
EX_SRC   := $(wildcard examples/*.c)
EX_BIN   := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)

.PHONY: all deps check bench fuzz fuzz-build clean
.SECONDARY:
all: deps $(BUILD)/libdescent.a $(BUILD)/libdescent.so $(BUILD)/libdescent_io.a \
     $(BUILD)/libdescent_io.so $(BUILD)/descent $(EX_BIN)

deps:
	@sh scripts/deps.sh build

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INI_CFLAGS) $(JANSSON_CFLAGS) -c $< -o $@

$(BUILD)/src/optim.o $(BUILD)/src/dense_portable.o $(BUILD)/src/dense_run.o: CFLAGS += $(VECT_CHEAP)
# the activations and losses: also -fno-trapping-math, which lets gcc turn the selects of
# src/mathf.h into vector blends (no value changes; descent never reads the FP flags)
$(BUILD)/src/act.o $(BUILD)/src/loss.o: CFLAGS += $(VECT_CHEAP) -fno-trapping-math

$(BUILD)/libdescent.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/libdescent.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libdescent_io.a: $(IO_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/libdescent_io.so: $(IO_OBJ) $(BUILD)/libdescent.so
	$(CC) -shared $(LDFLAGS) -o $@ $(IO_OBJ) -L$(BUILD) -ldescent $(JANSSON_LIBS) $(LDLIBS)

# the command's modules, less main(), as a library the tests link too
$(BUILD)/libdescentcli.a: $(CLI_LIB_OBJ)
	$(AR) rcs $@ $^

APP_LIBS := $(BUILD)/libdescentcli.a $(BUILD)/libdescent_io.a $(BUILD)/libdescent.a

$(BUILD)/descent: $(BUILD)/cli/main.o $(APP_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(JANSSON_LIBS) $(CLI_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(APP_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(JANSSON_LIBS) $(CLI_LIBS)

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(BUILD)/libdescent.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

check: all $(TEST_BIN)
	@sh tests/run.sh $(BUILD)

bench: all
	@sh bench/run.sh $(BUILD)

# Fuzzing: every fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput and is linked with the
# libraries, built here with clang's coverage and sanitizers. A run reads the committed
# seeds in fuzz/corpus/NAME/ (and the dictionary fuzz/NAME.dict when there is one) and
# keeps what it finds in build-fuzz/corpus/NAME/ (the seeds stay as committed); a crash
# is saved as build-fuzz/NAME-crash-* and fails make.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := build-fuzz
FUZZ_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -Iinclude $(WARN) \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/%.o) $(IO_SRC:%.c=$(FUZZ_DIR)/%.o) \
                $(CLI_LIB_OBJ:$(BUILD)/%=$(FUZZ_DIR)/%)

$(FUZZ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(INI_CFLAGS) $(JANSSON_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_DIR)/libfuzzlibs.a: $(FUZZ_LIB_OBJ)
	$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/fuzz/fuzz_%.o $(FUZZ_DIR)/libfuzzlibs.a
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(JANSSON_LIBS) $(CLI_LIBS)

fuzz-build:
	@sh scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BIN)

fuzz: fuzz-build
	@for b in $(FUZZ_BIN); do \
	    name=$${b#$(FUZZ_DIR)/fuzz_}; \
	    mkdir -p $(FUZZ_DIR)/corpus/$$name; \
	    echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
	    dict=; [ -f fuzz/$$name.dict ] && dict=-dict=fuzz/$$name.dict; \
	    $$b -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict \
	        -artifact_prefix=$(FUZZ_DIR)/$$name- \
	        $(FUZZ_DIR)/corpus/$$name fuzz/corpus/$$name || exit 1; \
	done

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(IO_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:=.d) $(EX_BIN:=.d)
-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_BIN:$(FUZZ_DIR)/%=$(FUZZ_DIR)/fuzz/%.d)
