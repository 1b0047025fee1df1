# kmem build. Every target finds a JDK 25+ by itself: JAVA_HOME if it qualifies, else the
# newest under /usr/lib/jvm. Root is expected (pagemap PFNs, mlock, hugepages).
#
# Only the targets whose help says "sets up the host" change it (tools/host-setup: maven and
# gcc with apt-get when missing, 2 MiB hugepages, shmem THP on advise), and they print what
# they changed; vm-test installs QEMU's packages with apt-get (it says so). `make` alone
# prints this help.
SHELL := /bin/bash
.DEFAULT_GOAL := help

JDK := $(shell tools/find-jdk)
ifeq ($(JDK),)
$(error no JDK 25 or newer found (JAVA_HOME or /usr/lib/jvm/*); kmem is built for JDK 25 (class file 69): install one, e.g. Temurin 25)
endif
export JAVA_HOME := $(JDK)
JAVA := $(JDK)/bin/java
# Maven's own guava warns about sun.misc.Unsafe under JDK 24+; that is Maven's, not kmem's.
MVN_BASE := MAVEN_OPTS="--sun-misc-unsafe-memory-access=allow $(MAVEN_OPTS)" mvn -B -Dstyle.color=never
MVN := $(MVN_BASE) -q
# Hugepages the tests and the default pool use (2 MiB each); host-setup reserves them.
HUGEPAGES ?= 64
ARGS ?= tour
LIB_JAR := lib/target/kmem.jar
TOOL_JAR := tool/target/kmem-tool.jar

.PHONY: help run test test-slub-debug soak vm-test bench bindings clean jar host-setup hugepages

help:
	@echo "kmem: make TARGET"
	@echo "  run [ARGS='tour']  build the jars, set up the host, run the kmem tool (ARGS='info', 'map pool.png', 'bench SlabBench', ...)"
	@echo "  test [TEST=A,B]    set up the host, then what CI runs: mvn verify -Pvm-test (both Surefire passes,"
	@echo "                     the second with slub_debug=FZPU, then the QEMU guest test); TEST= runs those classes once"
	@echo "  jar                build $(LIB_JAR) (the library) and $(TOOL_JAR) (the tool); changes nothing on the host"
	@echo "  test-slub-debug    the Surefire pass with slub_debug on every cache, alone"
	@echo "  vm-test            the QEMU guests on $(LIB_JAR): edu (DMA, UIO interrupts), pin (long-term pin), vfio (IOVA mode,"
	@echo "                     interrupts, no root), nic (the virtio-net example); apt-get installs qemu, busybox, cpio when missing"
	@echo "  bench [BENCH=RE]   set up the host, build the bench module (-Pbench) and run the JMH suite"
	@echo "  soak [SECONDS=60] [SEED=S]  set up the host, run the reliability harness (kmem stress --strict) for SECONDS"
	@echo "  host-setup         sets up the host: maven/gcc (apt-get), $(HUGEPAGES) hugepages, shmem THP on advise"
	@echo "  bindings           regenerate bindings/ with jextract (JEXTRACT=... or JEXTRACT_SRC=...)"
	@echo "  clean              mvn clean"

# Sets up the host (needs root); prints each change it makes.
host-setup:
	@tools/ensure-deps
	@tools/host-setup $(HUGEPAGES)

# Kept for scripts that called it: the same as host-setup.
hugepages: host-setup

$(LIB_JAR) $(TOOL_JAR) &: $(shell find lib/src/main tool/src/main bindings -name '*.java' 2>/dev/null) pom.xml lib/pom.xml tool/pom.xml
	@tools/ensure-deps --check
	@$(MVN) -DskipTests package

jar: $(LIB_JAR) $(TOOL_JAR)

# The main job: the kmem tool on an embedded default pool. `kmem bench` runs the bench
# module's JMH suite, so ARGS="bench ..." builds it first.
# The tool starts from the JDK's AOT cache (JDK 25, -XX:AOTCache): the first run after the jars
# change trains it (-XX:AOTCacheOutput: the run itself, then about 2 s to write the cache);
# KMEM_AOT=0 runs without it. The library never needs the cache.
TOOL_AOT := target/kmem-tool.aot
KMEM_AOT ?= 1
run: host-setup jar
	@$(if $(filter bench,$(firstword $(ARGS))),$(MVN) -Pbench -DskipTests package -pl bench -am,true)
	@aot=; if [ "$(KMEM_AOT)" != 0 ] && [ "$(firstword $(ARGS))" != bench ]; then \
	  mkdir -p target; \
	  if [ $(TOOL_AOT) -nt $(LIB_JAR) ] && [ $(TOOL_AOT) -nt $(TOOL_JAR) ]; then aot=-XX:AOTCache=$(TOOL_AOT); \
	  else rm -f $(TOOL_AOT); aot=-XX:AOTCacheOutput=$(TOOL_AOT); \
	    echo "kmem: this run also trains the tool's AOT cache ($(TOOL_AOT); once after each build; KMEM_AOT=0 skips it)" >&2; fi; \
	fi; \
	$(JAVA) $$aot --enable-native-access=io.kmem -p $(LIB_JAR):$(TOOL_JAR) -m io.kmem.tool/io.kmem.tool.Main $(ARGS)

# Not quiet: Surefire's per-class lines and its closing "Tests run:" summary are the report.
# With TEST, only those classes, once (no slub_debug pass, no vm-test).
test: host-setup
	@$(MVN_BASE) --no-transfer-progress verify \
	  $(if $(TEST),-Dtest=$(TEST) -Dsurefire.failIfNoSpecifiedTests=false -Dkmem.test.slubDebug.skip=true,-Pvm-test)
	@$(if $(TEST),echo "kmem: TEST=$(TEST) given; the slub_debug pass and the vm test not run",true)

# The second Surefire pass alone: every cache with slub_debug=FZPU, kfree's two-level
# frame-to-slab table; reports in */target/surefire-slub-debug/.
test-slub-debug:
	@$(MVN_BASE) --no-transfer-progress test-compile surefire:test@slub-debug

# The proof on a device: a QEMU guest with the edu PCI device runs vmtest/'s driver on
# kmem (tools/vm-test says what it downloads and builds; cache in target/vm/); pin proves
# the long-term pin; vfio the IOVA mode (edu behind an emulated Intel IOMMU, through VFIO);
# nic the example virtio-net driver (examples/virtio-net), two NICs on a QEMU hub.
vm-test: jar
	@tools/vm-test && tools/vm-test pin && tools/vm-test vfio && tools/vm-test nic

# JMH suite; figures printed and written under target/bench/.
bench: host-setup
	@$(MVN) -Pbench -DskipTests package -pl bench -am
	@mkdir -p target/bench
	@$(JAVA) --enable-native-access=ALL-UNNAMED -cp bench/target/classes:$$(cat bench/target/bench-classpath.txt) \
	  io.kmem.bench.BenchMain $(if $(BENCH),'$(BENCH)')

# The harness of ReliabilityProperties and kmem stress (tool/.../Harness.java) for SECONDS
# (default 60): `kmem stress --strict` on the tool's threads, no call limit; SEED=S seeds the
# bursts. Exits non-zero on a fault, after the final verification.
SECONDS ?= 60
soak: host-setup jar
	@$(JAVA) --enable-native-access=io.kmem -p $(LIB_JAR):$(TOOL_JAR) -m io.kmem.tool/io.kmem.tool.Main \
	  stress --strict --seconds $(SECONDS) --ops 9223372036854775807 $(if $(SEED),--seed $(SEED))

# Regenerate bindings/ from native/ with jextract: JEXTRACT=/path/to/bin/jextract, a jextract on
# PATH, or one built from JEXTRACT_SRC=<jextract source dir or git archive tarball> by
# tools/build-jextract (native/PROVENANCE names the commit and libclang; never run by make test).
bindings:
	@tools/gen-bindings

clean:
	@$(MVN) clean
	@rm -rf target
