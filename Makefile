# descent - build the library, the command and the tests into build/.
#   make            library (static + shared), the descent command, examples
#   make check      build and run every test; ends with "N passed, N failed"
#   make check SANITIZE=1   the same under AddressSanitizer + UBSan
#   make bench      benchmarks (on demand, never in CI's test run)
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
# updates and the portable kernels, let it version loops for aliasing and add epilogues
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
CLI_LIBS := $(CSV_LIBS) $(INI_LIBS) -lpthread -lm

LIB_SRC  := $(wildcard src/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC  := $(wildcard cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
CLI_LIB_OBJ := $(filter-out $(BUILD)/cli/main.o,$(CLI_OBJ))
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
EX_SRC   := $(wildcard examples/*.c)
EX_BIN   := $(EX_SRC:examples/%.c=$(BUILD)/examples/%)

.PHONY: all deps check bench clean
.SECONDARY:
all: deps $(BUILD)/libdescent.a $(BUILD)/libdescent.so $(BUILD)/descent $(EX_BIN)

deps:
	@sh scripts/deps.sh build

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INI_CFLAGS) -c $< -o $@

$(BUILD)/src/optim.o $(BUILD)/src/dense_portable.o: CFLAGS += $(VECT_CHEAP)

$(BUILD)/libdescent.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/libdescent.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

# the command's modules, less main(), as a library the tests link too
$(BUILD)/libdescentcli.a: $(CLI_LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/descent: $(BUILD)/cli/main.o $(BUILD)/libdescentcli.a $(BUILD)/libdescent.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libdescentcli.a $(BUILD)/libdescent.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS)

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(BUILD)/libdescent.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

check: all $(TEST_BIN)
	@sh tests/run.sh $(BUILD)

bench: all
	@sh bench/run.sh $(BUILD)

clean:
	rm -rf build build-san

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:=.d) $(EX_BIN:=.d)
