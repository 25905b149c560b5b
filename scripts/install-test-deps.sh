#!/usr/bin/env bash
# Installs the Debian packages the integration tests and benchmarks run for real, when they are missing:
# rsync, OpenSSH's server, Dovecot (core + IMAP), strace, Chromium, Redis, and the benchmark peers mb2md and mbsync (isync).
# Idempotent and quiet when everything is there; needs root (or sudo) only when something must be installed.
set -euo pipefail

need=()
command -v rsync >/dev/null 2>&1 || need+=(rsync)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v doveadm >/dev/null 2>&1 || need+=(dovecot-core)
[ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# discover's e2e test proves with strace that nothing outside the tree is opened.
command -v strace >/dev/null 2>&1 || need+=(strace)
# The campaign report (report.html) is opened, clicked and photographed in headless Chromium, driven by playwright-core.
[ -x /usr/bin/chromium ] || need+=(chromium)
# The campaign's scale-out (BullMQ) runs against a real Redis each test starts on a free port (Debian 12: 7.0, BSD).
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ "${MAILSHIFT_BENCH_DEPS:-}" = 1 ]; then
  command -v mb2md >/dev/null 2>&1 || need+=(mb2md)
  command -v mbsync >/dev/null 2>&1 || need+=(isync)
  [ -x /usr/bin/time ] || need+=(time)
  # imapsync (../shared/peers/imapsync, a peer of `npm run bench -- imap`): the Perl modules its README lists.
  if ! perl -MMail::IMAPClient -MDigest::HMAC_SHA1 -MIO::Tee -MUnicode::String -MEncode::IMAPUTF7 -MFile::Copy::Recursive -MReadonly -MSys::MemInfo -MRegexp::Common -MJSON::WebToken -MData::Uniqid -MAuthen::NTLM -MProc::ProcessTable -e 1 >/dev/null 2>&1; then
    need+=(libauthen-ntlm-perl libclass-load-perl libcrypt-openssl-rsa-perl libdigest-hmac-perl libencode-imaputf7-perl
      libfile-copy-recursive-perl libfile-tail-perl libio-compress-perl libio-socket-inet6-perl libio-socket-ssl-perl
      libio-tee-perl libmail-imapclient-perl libmodule-implementation-perl libmodule-runtime-perl libmodule-scandeps-perl
      libpackage-stash-perl libpackage-stash-xs-perl libreadonly-perl libterm-readkey-perl libunicode-string-perl
      liburi-perl libjson-webtoken-perl libdata-uniqid-perl libsys-meminfo-perl libregexp-common-perl
      libproc-processtable-perl libnet-server-perl libhtml-parser-perl libwww-perl)
  fi
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "install-test-deps: installing ${need[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "install-test-deps: need root to install ${need[*]}; run: apt-get install -y ${need[*]}" >&2
    exit 78
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# Dovecot's and Redis's packages start their system services on install; we run our own instances on free ports, so keep the
# package's service from starting (they would hold ports 143/993 and 6379 and are not ours to manage).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  remove_policy=1
fi
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [ "${remove_policy:-0}" = 1 ]; then $sudo rm -f /usr/sbin/policy-rc.d; fi
echo "install-test-deps: done" >&2
