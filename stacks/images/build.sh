#!/usr/bin/env bash
# Builds the offline Docker images used by kafka-harness.
#
#   build.sh [--force] base [SUITE]         -> debian:SUITE-slim (bookworm, or trixie)
#   build.sh [--force] jre [JAVA]           -> kafka-harness/jre:JAVA (17 on bookworm, or 21 on trixie)
#   build.sh [--force] kafka VERSION        -> kafka-harness/kafka:VERSION
#   build.sh [--force] zookeeper VERSION    -> kafka-harness/zookeeper:VERSION
#   build.sh --check kafka|zookeeper|postgres|clickhouse VERSION
#   build.sh --check connect VERSION [KAFKA] -> exit 0 when the image is present and
#                                              built from the current recipe, 1 if not
#   build.sh [--force] registry VERSION     -> kafka-harness/registry:VERSION (Apicurio Registry 3.x)
#   build.sh [--force] postgres MAJOR       -> kafka-harness/postgres:MAJOR (Debian's postgresql-MAJOR;
#                                              15 on bookworm)
#   build.sh [--force] connect VERSION [KAFKA]
#                                           -> kafka-harness/connect:VERSION (Kafka Connect from
#                                              kafka-harness/kafka:KAFKA, default 4.1.1, with the
#                                              Debezium VERSION PostgreSQL connector and Apicurio's
#                                              Avro converter)
#   build.sh [--force] clickhouse VERSION   -> kafka-harness/clickhouse:VERSION (Debian's
#                                              clickhouse-server; 18.16 on bookworm)
#
# Idempotent: an existing tag built from the current recipe (the files of its
# folder here, hashed into the image label kafka-harness.recipe) is reported as
# "already present: TAG" and left alone; a tag built from an older recipe is
# rebuilt. --force rebuilds the requested target only (its prerequisites are
# still built only when missing). Prerequisites are built automatically
# (kafka|zookeeper -> jre:17 -> base bookworm; registry -> the jre its
# classes need -> its base; postgres -> base bookworm; clickhouse -> base bookworm;
# connect -> kafka:KAFKA).
# A connect image also counts as outdated when it was built on another Kafka
# version or another kafka-harness/kafka:KAFKA image than the one there now.
#
# Output contract: progress lines on stdout start with "==> "; on failure a
# single "error: ..." line is printed on stderr (tool output goes to a log
# file named in that line, kept only on failure) and the exit status is
# non-zero (2 for bad usage).
#
# Environment (all optional):
#   DEBIAN_MIRROR   mirror URL for debootstrap (default: read from the host's apt sources)
#   KH_BUILD_LOG_DIR  where tool logs go (default: a temp dir, removed on success)
#   TMPDIR          where build contexts / the debootstrap rootfs are staged
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

BASE_REPO="debian"
JRE_REPO="kafka-harness/jre"
KAFKA_REPO="kafka-harness/kafka"
ZK_REPO="kafka-harness/zookeeper"
REGISTRY_REPO="kafka-harness/registry"
PG_REPO="kafka-harness/postgres"
CONNECT_REPO="kafka-harness/connect"
CH_REPO="kafka-harness/clickhouse"
CONNECT_KAFKA_DEFAULT="4.1.1"

# Each JRE comes from the Debian release that packages it (bookworm has no
# OpenJDK 21, trixie has no 17).
jre_suite() {
  case "$1" in
    17) echo bookworm ;;
    21) echo trixie ;;
    *) return 1 ;;
  esac
}

# Each PostgreSQL major comes from the Debian release that packages it.
pg_suite() {
  case "$1" in
    15) echo bookworm ;;
    *) return 1 ;;
  esac
}
PG_AVAILABLE="15 (bookworm)"

# Each ClickHouse version comes from the Debian release that packages it
# (bookworm: clickhouse-server 18.16.1+ds-7.3+b2; trixie has none).
ch_suite() {
  case "$1" in
    18.16) echo bookworm ;;
    *) return 1 ;;
  esac
}
CH_AVAILABLE="18.16 (bookworm's clickhouse-server 18.16.1)"

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: build.sh [--force] base [bookworm|trixie]
       build.sh [--force] jre [17|21]
       build.sh [--force] kafka VERSION
       build.sh [--force] zookeeper VERSION
       build.sh --check kafka|zookeeper|postgres|clickhouse VERSION
       build.sh --check connect VERSION [KAFKA]
       build.sh [--force] registry VERSION
       build.sh [--force] postgres 15
       build.sh [--force] connect DEBEZIUM_VERSION [KAFKA_VERSION]   (KAFKA default 4.1.1)
       build.sh [--force] clickhouse 18.16
EOF
  exit 2
}

# ---------------------------------------------------------------- helpers --

TMP_DIRS=()
LOG_DIR=""
cleanup() {
  local rc=$? d
  for d in "${TMP_DIRS[@]+"${TMP_DIRS[@]}"}"; do
    [ -n "$d" ] && [ -d "$d" ] && rm -rf -- "$d"
  done
  # keep tool logs only when something failed
  if [ "$rc" -eq 0 ] && [ -z "${KH_BUILD_LOG_DIR:-}" ] && [ -n "$LOG_DIR" ]; then
    rm -rf -- "$LOG_DIR"
  elif [ -n "$LOG_DIR" ] && [ -d "$LOG_DIR" ]; then
    rmdir -- "$LOG_DIR" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# new_tmp VAR: creates a temp dir (removed on exit) and stores its path in VAR
new_tmp() {
  local d
  d="$(mktemp -d "${TMPDIR:-/tmp}/kh-image.XXXXXX")"
  TMP_DIRS+=("$d")
  printf -v "$1" '%s' "$d"
}

init_log_dir() {
  if [ -n "${KH_BUILD_LOG_DIR:-}" ]; then
    mkdir -p "$KH_BUILD_LOG_DIR"
    LOG_DIR="$KH_BUILD_LOG_DIR"
  else
    LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/kh-image-logs.XXXXXX")"
  fi
}

need() {
  # need BINARY HINT
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# recipe_hash COMPONENT: hash of the files that make COMPONENT's image (Dockerfile,
# pom, wrappers, configs), so an image built from an older recipe is noticed.
recipe_hash() {
  (cd "$HERE/$1" && find . -type f ! -path './target/*' | LC_ALL=C sort | xargs sha256sum) \
    | sha256sum | cut -c1-16
}

# have_current_image TAG COMPONENT: the tag exists and was built from today's recipe
have_current_image() {
  local label
  label="$(docker image inspect -f '{{ index .Config.Labels "kafka-harness.recipe" }}' "$1" 2>/dev/null)" || return 1
  [ "$label" = "$(recipe_hash "$2")" ]
}

now() { date +%s; }

check_docker() {
  need docker "install it with apt-get install -y docker.io"
  docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon (is dockerd running, and may this user use it?)"
}

check_version() {
  # check_version COMPONENT VERSION [EXAMPLE]
  local example="${3:-3.7.2}"
  [ -n "$2" ] || die "missing VERSION for $1 (e.g. build.sh $1 $example)"
  [[ "$2" =~ ^[0-9]+\.[0-9]+\.[0-9]+([.-][A-Za-z0-9.]+)?$ ]] \
    || die "'$2' does not look like a $1 version (expected e.g. $example)"
}

# Runs the legacy (non-BuildKit) builder: the daemon is 20.10 and buildx is not
# required. Output goes to a log file that is kept (and named) on failure.
docker_build() {
  # docker_build TAG CONTEXT [extra docker build args...]
  local tag="$1" ctx="$2" log old_id new_id
  shift 2
  log="$LOG_DIR/docker-build-$(printf '%s' "$tag" | tr '/:' '__').log"
  old_id="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
  if ! DOCKER_BUILDKIT=0 docker build "$@" -t "$tag" "$ctx" >"$log" 2>&1; then
    die "docker build of $tag failed (log: $log)"
  fi
  # --force: drop the image the tag pointed at before, if nothing else uses it
  new_id="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
  if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true
  fi
}

# Serialise concurrent invocations (two harness runs building the same jre).
take_lock() {
  if command -v flock >/dev/null 2>&1; then
    local lock="${TMPDIR:-/tmp}/kafka-harness-images.lock"
    exec 9>>"$lock"
    if ! flock -n 9; then
      say "waiting for another build.sh to finish"
      flock 9
    fi
  fi
}

# ------------------------------------------------------------------- base --

# Prints the Debian mirror URL to use for bookworm, read from the host's apt
# sources: the URIs: of a deb822 stanza whose Suites: contains "bookworm", or
# a one-line "deb URL bookworm ..." entry. Falls back to any plain .../debian
# mirror of another suite (the same mirror serves bookworm).
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then
    printf '%s\n' "$DEBIAN_MIRROR"
    return 0
  fi
  local f m=""
  local -a sources=() lists=()
  for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && sources+=("$f"); done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do [ -f "$f" ] && lists+=("$f"); done

  # pass 1: exact bookworm suite; pass 2: any suite on a URI ending in /debian
  local pass
  for pass in 1 2; do
    if [ "${#sources[@]}" -gt 0 ]; then
      m="$(awk -v pass="$pass" '
        BEGIN { RS = ""; FS = "\n" }
        {
          uris = ""; suites = ""; enabled = 1; types = ""
          for (i = 1; i <= NF; i++) {
            line = $i
            if (line ~ /^[ \t]*#/) continue
            key = tolower(line); sub(/:.*/, "", key)
            val = line; sub(/^[^:]*:[ \t]*/, "", val); gsub(/[ \t]+/, " ", val)
            if (key == "uris") uris = val
            else if (key == "suites") suites = " " val " "
            else if (key == "types") types = " " val " "
            else if (key == "enabled" && tolower(val) ~ /^no/) enabled = 0
          }
          if (!enabled || uris == "" || types !~ / deb /) next
          n = split(uris, u, " ")
          for (j = 1; j <= n; j++) {
            if (pass == 1 && suites ~ / bookworm /) { print u[j]; exit }
            if (pass == 2 && u[j] ~ /\/debian\/?$/) { print u[j]; exit }
          }
        }' "${sources[@]}" 2>/dev/null | head -n 1)"
    fi
    if [ -z "$m" ] && [ "${#lists[@]}" -gt 0 ]; then
      m="$(awk -v pass="$pass" '
        /^[ \t]*deb[ \t]/ {
          i = 2
          if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
          url = $(i); suite = $(i + 1)
          if (pass == 1 && suite == "bookworm") { print url; exit }
          if (pass == 2 && url ~ /\/debian\/?$/) { print url; exit }
        }' "${lists[@]}" 2>/dev/null | head -n 1)"
    fi
    [ -n "$m" ] && break
  done
  [ -n "$m" ] || return 1
  printf '%s\n' "$m"
}

build_base() {
  # build_base FORCE SUITE
  local force="${1:-}" suite="${2:-bookworm}"
  local BASE_TAG="$BASE_REPO:$suite-slim"
  if [ -z "$force" ] && have_image "$BASE_TAG"; then
    say "already present: $BASE_TAG"
    return 0
  fi
  local t0; t0="$(now)"

  say "trying docker pull $BASE_TAG"
  if timeout 30 docker pull -q "$BASE_TAG" >/dev/null 2>&1; then
    say "pulled $BASE_TAG in $(( $(now) - t0 ))s"
    return 0
  fi

  need debootstrap "install it with apt-get install -y debootstrap"
  [ "$(id -u)" -eq 0 ] || die "building $BASE_TAG with debootstrap needs root (or docker pull access)"
  local mirror
  mirror="$(debian_mirror)" || die "no Debian mirror found in /etc/apt/sources.list* (set DEBIAN_MIRROR=URL)"

  local tmp root log
  new_tmp tmp
  root="$tmp/rootfs"
  log="$LOG_DIR/debootstrap.log"
  say "registry unreachable; debootstrap $suite (minbase) from the host's apt mirror"
  if ! debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$log" 2>&1; then
    die "debootstrap $suite from $mirror failed (log: $log)"
  fi

  # Slim it like the official -slim variant and keep future installs slim too.
  printf 'deb %s %s main\n' "$mirror" "$suite" >"$root/etc/apt/sources.list"
  rm -f "$root"/etc/apt/sources.list.d/*.sources
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf 'Acquire::Languages "none";\n' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*.log \
         "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root"/tmp/* 
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true

  say "importing rootfs as $BASE_TAG"
  if ! tar --numeric-owner --xattrs -C "$root" \
        --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . \
      | docker import -c 'CMD ["bash"]' -m "debootstrap --variant=minbase $suite" - "$BASE_TAG" >/dev/null; then
    die "docker import of $BASE_TAG failed"
  fi
  say "built $BASE_TAG in $(( $(now) - t0 ))s"
}

# -------------------------------------------------------------------- jre --

build_jre() {
  # build_jre FORCE JAVA
  local force="${1:-}" java="${2:-17}" suite
  local JRE_TAG="$JRE_REPO:$java"
  suite="$(jre_suite "$java")" || die "no JRE $java: expected 17 or 21"
  if [ -z "$force" ] && have_image "$JRE_TAG"; then
    say "already present: $JRE_TAG"
    return 0
  fi
  build_base "" "$suite"
  local t0; t0="$(now)"
  say "building $JRE_TAG (apt-get install openjdk-$java-jre-headless on $suite)"
  docker_build "$JRE_TAG" "$HERE/jre" --network host \
    --build-arg "BASE_IMAGE=$BASE_REPO:$suite-slim" --build-arg "JAVA_VERSION=$java"
  say "built $JRE_TAG in $(( $(now) - t0 ))s"
}

# ------------------------------------------------------- kafka / zookeeper --

# mvn_libs COMPONENT POM_DIR VERSION_PROPERTY VERSION GAV OUT_DIR
mvn_libs() {
  local comp="$1" pomdir="$2" prop="$3" version="$4" gav="$5" out="$6" log
  need mvn "install Maven with apt-get install -y maven"
  log="$LOG_DIR/mvn-$comp-$version.log"
  say "resolving $gav:$version and its runtime dependencies with mvn"
  if ! mvn -q -B -f "$pomdir/pom.xml" dependency:copy-dependencies \
        "-D$prop=$version" -DincludeScope=runtime -DoutputDirectory="$out" \
        -Dmdep.overWriteReleases=true >"$log" 2>&1; then
    local g="${gav//./\\.}"
    if grep -qE "Could not transfer artifact|UnknownHostException|Connection refused|Network is unreachable|Connect timed out|Read timed out" "$log" \
       && ! grep -qE "Could not find artifact $g|Failure to find $g" "$log"; then
      die "mvn could not download $gav:$version: is Maven Central reachable? (log: $log)"
    fi
    # a pom of the graph (often a parent) missing from the repository, e.g.
    # io.apicurio:apicurio-registry:pom:3.0.9 for every Apicurio 3.0.9 module
    local missing
    missing="$(grep -oE "Failed to read artifact descriptor for [^ ]+: (Could not find artifact [^ ]+|[^ ]+ was not found)" "$log" \
               | head -n 1 | sed -E 's/^Failed to read artifact descriptor for [^ ]+: (Could not find artifact )?([^ ]+).*/\2/' || true)"
    if [ -n "$missing" ]; then
      die "mvn could not resolve $gav:$version: the pom $missing, which it needs, is not in the Maven repository (log: $log)"
    fi
    if grep -qE "Could not find artifact $g|Failure to find $g|Could not resolve dependencies.*$g" "$log"; then
      die "mvn could not resolve $gav:$version — is that a released version? (log: $log)"
    fi
    die "mvn failed resolving $gav:$version (log: $log)"
  fi
  ls "$out"/*.jar >/dev/null 2>&1 || die "mvn resolved no jars for $gav:$version (log: $log)"
}

build_component() {
  # build_component FORCE kafka|zookeeper VERSION
  local force="$1" comp="$2" version="$3" repo gav prop tag
  case "$comp" in
    kafka)     repo="$KAFKA_REPO"; gav="org.apache.kafka:kafka_2.13";   prop="kafka.version" ;;
    zookeeper) repo="$ZK_REPO";    gav="org.apache.zookeeper:zookeeper"; prop="zookeeper.version" ;;
  esac
  check_version "$comp" "$version"
  tag="$repo:$version"
  if [ -z "$force" ] && have_current_image "$tag" "$comp"; then
    say "already present: $tag"
    return 0
  fi
  if [ -z "$force" ] && have_image "$tag"; then
    say "$tag was built from an older recipe: rebuilding"
  fi
  build_jre "" 17
  local t0 tmp ctx; t0="$(now)"
  new_tmp tmp
  ctx="$tmp/context"
  mkdir -p "$ctx"
  cp -R "$HERE/$comp/." "$ctx/"
  mvn_libs "$comp" "$ctx" "$prop" "$version" "$gav" "$ctx/libs"
  rm -rf "$ctx/target"
  say "building $tag ($(find "$ctx/libs" -name '*.jar' | wc -l | tr -d ' ') jars, $(du -sh "$ctx/libs" | cut -f1))"
  docker_build "$tag" "$ctx" --build-arg "VERSION=$version" --label "kafka-harness.recipe=$(recipe_hash "$comp")"
  say "built $tag in $(( $(now) - t0 ))s"
}

# --------------------------------------------------------------- registry --

# class_major JAR: the class-file major version of the first class in JAR
# (61 = Java 17, 65 = Java 21), empty if there is none.
class_major() {
  local entry
  entry="$(unzip -Z1 "$1" 2>/dev/null | grep -m 1 '\.class$' || true)"
  [ -n "$entry" ] || return 0
  { unzip -p "$1" "$entry" 2>/dev/null || true; } | head -c 8 | od -An -tu1 | awk '{ print $7 * 256 + $8 }'
}

# Apicurio Registry 3.x from its own Maven Central distribution: the
# io.apicurio:apicurio-registry-app:VERSION:tar.gz:all assembly, which is the
# Quarkus application as the upstream image ships it (legacy-jar layout
# "*-runner.jar + lib/" in 3.0.x, fast-jar "quarkus-run.jar + lib/ app/
# quarkus/" later). Its JRE follows from the class-file version of its jars.
# mvn_get COMPONENT GROUP:ARTIFACT VERSION TYPE:CLASSIFIER OUT_DIR
# Downloads one artifact (no dependency graph) into OUT_DIR. Plugin 2.8's get
# with -Dtransitive=false is used because it does not read the artifact's
# pom: newer copy/get goals fail when a parent pom is missing from the
# repository, as io.apicurio:apicurio-registry:3.0.9 is on some mirrors.
mvn_get() {
  local comp="$1" ga="$2" version="$3" tc="$4" out="$5" log
  need mvn "install Maven with apt-get install -y maven"
  log="$LOG_DIR/mvn-$comp-$version.log"
  mkdir -p "$out"
  say "downloading $ga:$version:$tc with mvn"
  if ! mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:2.8:get \
        "-Dartifact=$ga:$version:$tc" -Dtransitive=false "-Ddest=$out/" >"$log" 2>&1; then
    local g="${ga//./\\.}"
    if grep -qE "Could not find artifact $g|$g:[^ ]*:$version was not found|Failure to find $g" "$log"; then
      die "mvn could not resolve $ga:$version:$tc — is that a released version? (log: $log)"
    fi
    if grep -qE "Could not transfer artifact|UnknownHostException|Connection refused|Network is unreachable|Connect timed out|Read timed out" "$log"; then
      die "mvn could not download $ga:$version: is Maven Central reachable? (log: $log)"
    fi
    die "mvn failed downloading $ga:$version:$tc (log: $log)"
  fi
}

build_registry() {
  local force="$1" version="$2" tag ga="io.apicurio:apicurio-registry-app"
  check_version registry "$version"
  case "$version" in
    [0-2].*) die "Apicurio Registry $version is not supported: the registry image needs 3.x (2.x has separate storage distributions and another API layout)" ;;
  esac
  tag="$REGISTRY_REPO:$version"
  if [ -z "$force" ] && have_image "$tag"; then
    say "already present: $tag"
    return 0
  fi
  need unzip "install it with apt-get install -y unzip"
  local t0 tmp ctx dist; t0="$(now)"
  new_tmp tmp
  ctx="$tmp/context"
  mkdir -p "$ctx/app"
  cp -R "$HERE/registry/." "$ctx/"
  mvn_get registry "$ga" "$version" "tar.gz:all" "$tmp/dist"
  dist="$tmp/dist/apicurio-registry-app-$version-all.tar.gz"
  [ -f "$dist" ] || die "mvn reported success but $(basename "$dist") is missing"
  tar -xzf "$dist" -C "$ctx/app" || die "cannot unpack $(basename "$dist")"
  # world-readable before COPY: a chmod in the Dockerfile would copy every jar
  # into another layer
  chmod -R a+rX "$ctx/app"

  # The highest class-file version among Apicurio's own jars decides the JRE.
  local jar major max=0 java
  while IFS= read -r jar; do
    major="$(class_major "$jar")"
    [ -n "$major" ] && [ "$major" -gt "$max" ] && max="$major"
  done < <(find "$ctx/app" -name 'io.apicurio.*.jar' -o -name 'apicurio-registry-app-*.jar')
  if   [ "$max" -eq 0 ];  then die "no Apicurio jar with classes found in $(basename "$dist")"
  elif [ "$max" -le 61 ]; then java=17
  elif [ "$max" -le 65 ]; then java=21
  else die "Apicurio Registry $version needs Java $((max - 44)); only 17 and 21 can be built here"
  fi
  build_jre "" "$java"

  say "building $tag (Java $java, $(find "$ctx/app" -name '*.jar' | wc -l | tr -d ' ') jars, $(du -sh "$ctx/app" | cut -f1))"
  docker_build "$tag" "$ctx" --build-arg "VERSION=$version" --build-arg "JRE_IMAGE=$JRE_REPO:$java"
  say "built $tag in $(( $(now) - t0 ))s"
}

# --------------------------------------------------------------- postgres --

check_pg_major() {
  [ -n "$1" ] || die "missing MAJOR for postgres (e.g. build.sh postgres 15)"
  pg_suite "$1" >/dev/null \
    || die "PostgreSQL '$1' is not packaged by the Debian releases these images use; available: $PG_AVAILABLE"
}

# PostgreSQL from Debian's postgresql-MAJOR package on the base of the Debian
# release that has it (no Maven step: the recipe folder is the build context).
build_postgres() {
  # build_postgres FORCE MAJOR
  local force="$1" major="$2" suite tag
  check_pg_major "$major"
  suite="$(pg_suite "$major")"
  tag="$PG_REPO:$major"
  if [ -z "$force" ] && have_current_image "$tag" postgres; then
    say "already present: $tag"
    return 0
  fi
  if [ -z "$force" ] && have_image "$tag"; then
    say "$tag was built from an older recipe: rebuilding"
  fi
  build_base "" "$suite"
  local t0; t0="$(now)"
  say "building $tag (apt-get install postgresql-$major on $suite)"
  docker_build "$tag" "$HERE/postgres" --network host \
    --build-arg "BASE_IMAGE=$BASE_REPO:$suite-slim" --build-arg "PG_MAJOR=$major" \
    --label "kafka-harness.recipe=$(recipe_hash postgres)"
  say "built $tag in $(( $(now) - t0 ))s"
}

# ---------------------------------------------------------------- connect --

# The Apicurio converter version the connect recipe pins (its pom's property).
connect_apicurio_version() {
  sed -n 's:.*<apicurio\.version>\(.*\)</apicurio\.version>.*:\1:p' \
    "$HERE/connect/poms/apicurio-registry-utils-converter/pom.xml" | head -n 1
}

# connect_is_current TAG KAFKA: built from today's recipe, on Kafka KAFKA, from
# the kafka-harness/kafka:KAFKA image that is there now
connect_is_current() {
  local tag="$1" kafka="$2" labels kafka_id
  have_current_image "$tag" connect || return 1
  kafka_id="$(docker image inspect -f '{{.Id}}' "$KAFKA_REPO:$kafka" 2>/dev/null)" || return 1
  labels="$(docker image inspect -f '{{ index .Config.Labels "kafka-harness.kafka-version" }} {{ index .Config.Labels "kafka-harness.kafka-image" }}' "$tag" 2>/dev/null)" || return 1
  [ "$labels" = "$kafka $kafka_id" ]
}

# Kafka Connect (distributed) on top of kafka-harness/kafka:KAFKA, whose libs
# already hold the Connect runtime; the plugins are resolved with mvn into
# plugins/NAME/ (one plugin.path entry each) of a temporary build context.
build_connect() {
  # build_connect FORCE DEBEZIUM_VERSION KAFKA_VERSION
  local force="$1" version="$2" kafka="$3" tag built_on
  check_version connect "$version" 3.6.1.Final
  check_version kafka "$kafka" "$CONNECT_KAFKA_DEFAULT"
  tag="$CONNECT_REPO:$version"
  if [ -z "$force" ] && connect_is_current "$tag" "$kafka"; then
    say "already present: $tag"
    return 0
  fi
  if [ -z "$force" ] && have_image "$tag"; then
    built_on="$(docker image inspect -f '{{ index .Config.Labels "kafka-harness.kafka-version" }}' "$tag" 2>/dev/null || true)"
    if [ -n "$built_on" ] && [ "$built_on" != "$kafka" ]; then
      say "$tag was built on Kafka $built_on: rebuilding on $kafka"
    else
      say "$tag was built from an older recipe or kafka image: rebuilding"
    fi
  fi
  build_component "" kafka "$kafka"
  local t0 tmp ctx apicurio kafka_id; t0="$(now)"
  apicurio="$(connect_apicurio_version)"
  [ -n "$apicurio" ] || die "no <apicurio.version> in $HERE/connect/poms/apicurio-registry-utils-converter/pom.xml"
  kafka_id="$(docker image inspect -f '{{.Id}}' "$KAFKA_REPO:$kafka")" || die "$KAFKA_REPO:$kafka is missing"
  new_tmp tmp
  ctx="$tmp/context"
  mkdir -p "$ctx"
  cp -R "$HERE/connect/." "$ctx/"
  mvn_libs connect-debezium "$ctx/poms/debezium-connector-postgres" debezium.version "$version" \
    io.debezium:debezium-connector-postgres "$ctx/plugins/debezium-connector-postgres"
  mvn_libs connect-apicurio "$ctx/poms/apicurio-registry-utils-converter" apicurio.version "$apicurio" \
    io.apicurio:apicurio-registry-utils-converter "$ctx/plugins/apicurio-registry-utils-converter"
  rm -rf "$ctx"/poms/*/target
  # world-readable before COPY (a chmod in the Dockerfile would copy every jar
  # into another layer)
  chmod -R a+rX "$ctx/plugins"
  say "building $tag on $KAFKA_REPO:$kafka (Apicurio converter $apicurio; $(find "$ctx/plugins" -name '*.jar' | wc -l | tr -d ' ') plugin jars, $(du -sh "$ctx/plugins" | cut -f1))"
  docker_build "$tag" "$ctx" --build-arg "KAFKA_IMAGE=$KAFKA_REPO:$kafka" \
    --build-arg "DEBEZIUM_VERSION=$version" --build-arg "APICURIO_CONVERTER_VERSION=$apicurio" \
    --label "kafka-harness.recipe=$(recipe_hash connect)" \
    --label "kafka-harness.kafka-version=$kafka" --label "kafka-harness.kafka-image=$kafka_id"
  say "built $tag in $(( $(now) - t0 ))s"
}

# ------------------------------------------------------------- clickhouse --

check_ch_version() {
  [ -n "$1" ] || die "missing VERSION for clickhouse (e.g. build.sh clickhouse 18.16)"
  ch_suite "$1" >/dev/null \
    || die "ClickHouse '$1' is not packaged by the Debian releases these images use; available: $CH_AVAILABLE"
}

# ClickHouse from Debian's clickhouse-server package on the base of the Debian
# release that has it (no Maven step: the recipe folder is the build context).
build_clickhouse() {
  # build_clickhouse FORCE VERSION
  local force="$1" version="$2" suite tag
  check_ch_version "$version"
  suite="$(ch_suite "$version")"
  tag="$CH_REPO:$version"
  if [ -z "$force" ] && have_current_image "$tag" clickhouse; then
    say "already present: $tag"
    return 0
  fi
  if [ -z "$force" ] && have_image "$tag"; then
    say "$tag was built from an older recipe: rebuilding"
  fi
  build_base "" "$suite"
  local t0; t0="$(now)"
  say "building $tag (apt-get install clickhouse-server on $suite)"
  docker_build "$tag" "$HERE/clickhouse" --network host \
    --build-arg "BASE_IMAGE=$BASE_REPO:$suite-slim" --build-arg "CLICKHOUSE_VERSION=$version" \
    --label "kafka-harness.recipe=$(recipe_hash clickhouse)"
  say "built $tag in $(( $(now) - t0 ))s"
}

# ------------------------------------------------------------------- main --

FORCE=""
if [ "${1:-}" = "--force" ]; then FORCE=1; shift; fi
if [ "${1:-}" = "--check" ]; then
  if [ "${2:-}" = connect ] && { [ $# -eq 3 ] || [ $# -eq 4 ]; }; then
    connect_is_current "$CONNECT_REPO:$3" "${4:-$CONNECT_KAFKA_DEFAULT}"
    exit
  fi
  [ $# -eq 3 ] && [[ "$2" =~ ^(kafka|zookeeper|postgres|clickhouse)$ ]] || usage
  case "$2" in kafka) repo="$KAFKA_REPO" ;; zookeeper) repo="$ZK_REPO" ;; postgres) repo="$PG_REPO" ;; clickhouse) repo="$CH_REPO" ;; esac
  have_current_image "$repo:$3" "$2"
  exit
fi
[ $# -ge 1 ] || usage
TARGET="$1"; shift

case "$TARGET" in
  base) [ $# -le 1 ] || usage
        case "${1:-bookworm}" in bookworm|trixie) ;; *) die "unknown base suite '$1' (expected bookworm or trixie)" ;; esac ;;
  jre) [ $# -le 1 ] || usage
       jre_suite "${1:-17}" >/dev/null || die "unknown JRE '$1' (expected 17 or 21)" ;;
  kafka|zookeeper|registry) [ $# -eq 1 ] || die "usage: build.sh [--force] $TARGET VERSION" ;;
  postgres) [ $# -eq 1 ] || die "usage: build.sh [--force] postgres MAJOR; available: $PG_AVAILABLE"
            check_pg_major "$1" ;;
  connect) { [ $# -eq 1 ] || [ $# -eq 2 ]; } || die "usage: build.sh [--force] connect DEBEZIUM_VERSION [KAFKA_VERSION]" ;;
  clickhouse) [ $# -eq 1 ] || die "usage: build.sh [--force] clickhouse VERSION; available: $CH_AVAILABLE"
              check_ch_version "$1" ;;
  -h|--help|help) usage ;;
  *) die "unknown target '$TARGET' (expected base, jre, kafka VERSION, zookeeper VERSION, registry VERSION, postgres MAJOR, connect VERSION [KAFKA] or clickhouse VERSION)" ;;
esac

check_docker
take_lock
init_log_dir

case "$TARGET" in
  base) build_base "$FORCE" "${1:-bookworm}" ;;
  jre) build_jre "$FORCE" "${1:-17}" ;;
  kafka|zookeeper) build_component "$FORCE" "$TARGET" "$1" ;;
  registry) build_registry "$FORCE" "$1" ;;
  postgres) build_postgres "$FORCE" "$1" ;;
  connect) build_connect "$FORCE" "$1" "${2:-$CONNECT_KAFKA_DEFAULT}" ;;
  clickhouse) build_clickhouse "$FORCE" "$1" ;;
esac
