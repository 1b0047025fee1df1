# kmem build. Every target finds a JDK 22+ by itself: JAVA_HOME if it qualifies, else the
# newest under /usr/lib/jvm. Root is expected (pagemap PFNs, mlock, hugepages).
SHELL := /bin/bash
.DEFAULT_GOAL := run

JDK := $(shell tools/find-jdk)
ifeq ($(JDK),)
$(error no JDK 22 or newer found (JAVA_HOME or /usr/lib/jvm/*); kmem needs the FFM API: install one, e.g. Temurin 25)
endif
export JAVA_HOME := $(JDK)
JAVA := $(JDK)/bin/java
# Maven's own guava warns about sun.misc.Unsafe under JDK 24+; that is Maven's, not kmem's.
MVN_BASE := MAVEN_OPTS="--sun-misc-unsafe-memory-access=allow $(MAVEN_OPTS)" mvn -B -Dstyle.color=never
MVN := $(MVN_BASE) -q
# Hugepages the tests and the default pool use (2 MiB each); `make test` reserves them.
HUGEPAGES ?= 64
ARGS ?= tour

.PHONY: run test test-slub-debug soak vm-test bench bindings clean jar hugepages deps

deps:
	@tools/ensure-deps

target/kmem.jar: deps $(shell find src/main bindings -name '*.java' 2>/dev/null) pom.xml
	@$(MVN) -DskipTests package
	@cp target/kmem-*.jar target/kmem.jar

jar: target/kmem.jar

# The main job: the kmem tool on an embedded default pool. `kmem bench` runs the JMH suite
# from the test classes, so ARGS="bench ..." compiles them first.
run: target/kmem.jar hugepages
	@$(if $(filter bench,$(firstword $(ARGS))),$(MVN) -DskipTests test-compile,true)
	@$(JAVA) --enable-native-access=io.kmem -p target/kmem.jar -m io.kmem/io.kmem.cli.Main $(ARGS)

# Not quiet: Surefire's per-class lines and its closing "Tests run:" summary are the report.
# Then the vm test on the jar verify just built (skipped when TEST picks Maven tests).
test: deps hugepages
	@$(MVN_BASE) --no-transfer-progress verify \
	  $(if $(TEST),-Dtest=$(TEST) -Dsurefire.failIfNoSpecifiedTests=false)
	@cp target/kmem-*.jar target/kmem.jar
	@$(if $(TEST),echo "kmem: TEST=$(TEST) given; the slub_debug run and make vm-test not run",$(MAKE) --no-print-directory test-slub-debug)
	@$(if $(TEST),true,tools/vm-test && tools/vm-test pin)

# The whole suite again with SLUB debugging on every cache (-Dkmem.slub_debug=FZPU), so that
# the debug paths run under every test, and with kfree's two-level frame-to-slab table
# (-Dkmem.slab_table=sections; the first run has the flat one); reports in
# target/surefire-slub-debug/.
test-slub-debug:
	@echo "kmem: the suite again with kmem.slub_debug=FZPU (red zones, poisoning, consistency checks, store user)" \
	  "and kmem.slab_table=sections (kfree's two-level frame-to-slab table)"
	@$(MVN_BASE) --no-transfer-progress surefire:test \
	  '-Dkmem.test.jvmArgs=-Dkmem.slub_debug=FZPU -Dkmem.slab_table=sections' \
	  -Dkmem.test.reports=target/surefire-slub-debug

# The proof on a device: a QEMU guest with the edu PCI device runs src/vmtest's driver on
# kmem (tools/vm-test says what it downloads and builds; cache in target/vm/).
vm-test: target/kmem.jar
	@tools/vm-test && tools/vm-test pin

# JMH suite; figures printed and written under target/bench/.
bench: deps hugepages
	@$(MVN) -DskipTests test-compile
	@mkdir -p target/bench
	@$(JAVA) --enable-native-access=ALL-UNNAMED -cp target/test-classes:target/classes:$$(cat target/bench-classpath.txt) \
	  io.kmem.bench.BenchMain $(BENCH)

# The reliability model of ReliabilityProperties for SECONDS (default 60), fresh random bursts;
# SEED=S replays a run. Exits non-zero on the first failure, naming the round's seed.
SECONDS ?= 60
soak: deps hugepages
	@$(MVN) -DskipTests test-compile
	@$(JAVA) --enable-native-access=ALL-UNNAMED -cp target/test-classes:target/classes:$$(cat target/bench-classpath.txt) \
	  io.kmem.Soak $(SECONDS) $(SEED)

# Host set-up: reserve 2 MiB hugepages, shmem THP on advise (needs root; says so when it fails).
hugepages:
	@tools/host-setup $(HUGEPAGES)

# Regenerate bindings/ from native/ with jextract: JEXTRACT=/path/to/bin/jextract, a jextract on
# PATH, or one built from JEXTRACT_SRC=<jextract source dir or git archive tarball> by
# tools/build-jextract (native/PROVENANCE names the commit and libclang; never run by make test).
bindings:
	@tools/gen-bindings

clean:
	@$(MVN) clean
