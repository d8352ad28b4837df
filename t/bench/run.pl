#!/usr/bin/perl
# t/bench/run.pl -- `make bench`: wrk through nginx against dashcgi and,
# where it makes sense, against t/bench/baseline (a bare pre-forked
# libfcgi responder) behind an identical nginx.  What dashcgi costs
# beyond the baseline is the price of its features.
#
# Both backends run under DashTest: the same generated nginx.conf, the
# shipped nginx/dashcgi.conf snippet verbatim, the same basic-auth
# users; only the upstream socket differs.  dashcgi gets its own
# throwaway PostgreSQL 15 cluster with the migrations applied.
#
# Adding a measurement is adding a row to @ENDPOINTS below.
#
# Environment:
#   BENCH_DURATION     seconds per measured run (default 10); each run
#                      follows a discarded warm-up of BENCH_WARMUP (2) s
#   BENCH_CONNECTIONS  comma-separated wrk connection counts (8,32)
#   BENCH_THREADS      wrk threads (2)
#   BENCH_WORKERS      dashcgi and baseline workers (2)
#   BENCH_ONLY         regex: only the rows whose name matches
#   BENCH_JSON         also write the results to this file as JSON
#   DASHCGI_BIN, DASHCGI_SRCDIR, DASHCGI_BUILDDIR as for the tests (by
#   default the build tree is the current directory, as under make).
#
# Core Perl only; every wait is bounded; DashTest stops every process
# it started (also on error or Ctrl-C).
use strict;
use warnings;

use Cwd qw(abs_path getcwd);
use File::Basename qw(dirname);
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);

use DashTest;

my $DURATION = _posint('BENCH_DURATION', 10);
my $WARMUP = _nonneg('BENCH_WARMUP', 2);
my $THREADS = _posint('BENCH_THREADS', 2);
my $WORKERS = _posint('BENCH_WORKERS', 2);
my @CONNS = split /\s*,\s*/, $ENV{BENCH_CONNECTIONS} // '8,32';
die "run.pl: BENCH_CONNECTIONS must be positive integers, comma-separated\n"
    if !@CONNS || grep { !/^[1-9][0-9]*$/ } @CONNS;
# wrk's per-request timeout: a slower answer counts as an error.
my $WRK_TIMEOUT = '5s';
# The production default (conf/dashcgi.yaml): one line per request.
my $LOG_LEVEL = 'info';

# --------------------------------------------------------------------
# The endpoints.  A row:
#   name        label in the table
#   method      GET, POST, ... (default GET)
#   path        request path (query string allowed)
#   user        basic-auth user through nginx (password pw-<user>),
#               one of @DashTest::USERS; undef = anonymous
#   body        request body (sent with Content-Type: content_type,
#               default application/json)
#   headers     { Name => value } extra request headers
#   expect      the status every request must get (default 200); checked
#               once before the runs, and wrk's non-2xx count is shown
#   baseline    undef = dashcgi alone; 'live' = the same request to
#               the baseline, which answers {"alive":true} to anything
#   setup       sub ($t, $row) run once before the row is measured,
#               e.g. create 10,000 dashboards with $t->psql; $t is the
#               dashcgi DashTest (PostgreSQL, migrations, dashcgi, nginx)
#   setup_timeout  seconds the setup may take (default 300)
#   connections [counts] instead of BENCH_CONNECTIONS
my @ENDPOINTS = (
	{ name => 'GET /live', path => '/live', baseline => 'live' },
	{ name => 'GET /api/v1/health', path => '/api/v1/health' },
	{ name => 'GET /metrics', path => '/metrics' },
);

# --------------------------------------------------------------------

sub _posint {
	my ($var, $def) = @_;
	my $v = $ENV{$var} // $def;
	$v =~ s/s$// if $var eq 'BENCH_DURATION';
	die "run.pl: $var must be a positive integer (got '$v')\n"
	    unless $v =~ /^[1-9][0-9]*$/;
	return $v;
}

sub _nonneg {
	my ($var, $def) = @_;
	my $v = $ENV{$var} // $def;
	$v =~ s/s$//;
	die "run.pl: $var must be a whole number of seconds (got '$v')\n"
	    unless $v =~ /^[0-9]+$/;
	return $v;
}

sub _slurp {
	my ($p) = @_;
	open(my $fh, '<', $p) or return '';
	local $/;
	return <$fh> // '';
}

sub _which {
	my ($name) = @_;
	for my $d (split(/:/, $ENV{PATH} // ''), '/usr/bin', '/usr/local/bin') {
		return "$d/$name" if $d ne '' && -x "$d/$name";
	}
	return undef;
}

# "1.23ms" -> milliseconds
sub _ms {
	my ($s) = @_;
	return undef unless defined $s;
	my ($n, $u) = $s =~ /^([0-9.]+)(us|ms|s|m)$/ or return undef;
	return $n / 1000 if $u eq 'us';
	return $n if $u eq 'ms';
	return $n * 1000 if $u eq 's';
	return $n * 60000;
}

sub _parse_wrk {
	my ($out) = @_;
	my %r;
	($r{rps}) = $out =~ /^Requests\/sec:\s+([0-9.]+)/m;
	($r{requests}) = $out =~ /^\s*(\d+) requests in /m;
	for my $p (50, 75, 90, 99) {
		my ($v) = $out =~ /^\s+$p%\s+(\S+)/m;
		$r{"p$p"} = _ms($v);
	}
	$r{non2xx} = ($out =~ /Non-2xx or 3xx responses:\s+(\d+)/)[0] // 0;
	my $sock = 0;
	if ($out =~ /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/) {
		$sock = $1 + $2 + $3 + $4;
		$r{socket_errors} = "connect $1, read $2, write $3, timeout $4";
	}
	$r{errors} = $r{non2xx} + $sock;
	return \%r;
}

# --- how busy the machine was with things other than the benchmark
# (other sessions, builds): the machine's user, system and steal time
# from /proc/stat minus the CPU time of our own processes: this
# script's descendants (nginx, dashcgi, the baseline; wrk once reaped,
# through times()), the PostgreSQL cluster, and kernel threads
# (ksoftirqd and kworkers mostly carry our loopback traffic).  irq and
# softirq time, which the kernel charges to no process, is left out.

my $CLK_TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

sub _machine_jiffies {
	my ($l) = _slurp('/proc/stat') =~ /^cpu\s+(.*)$/m or return (0, 0);
	my @f = map { $_ // 0 } (split ' ', $l)[0 .. 7];
	my $total = 0;
	$total += $_ for @f;
	# user nice system idle iowait irq softirq steal
	return ($f[0] + $f[1] + $f[2] + $f[7], $total);
}

# pid -> utime+stime (clock ticks) of our processes.
sub _our_procs {
	my (@roots) = @_;
	my (%ppid, %cpu);
	opendir(my $d, '/proc') or return {};
	for my $p (grep { /^\d+$/ } readdir $d) {
		my ($rest) = _slurp("/proc/$p/stat") =~ /\)\s+(.*)$/s or next;
		my @f = split ' ', $rest;	# f[0] = field 3 (state)
		$ppid{$p} = $f[1];
		$cpu{$p} = $f[11] + $f[12];
	}
	closedir $d;
	my (%kids, %r);
	push @{ $kids{ $ppid{$_} } }, $_ for keys %ppid;
	my @todo = (2, grep { defined } @roots);	# 2 = kthreadd
	while (defined(my $p = shift @todo)) {
		next if exists $r{$p};
		$r{$p} = $cpu{$p} // 0;
		push @todo, @{ $kids{$p} || [] };
	}
	return \%r;
}

my @PG_ROOTS;	# postmaster pids, set once the servers run

sub cpu_sample {
	my ($busy, $total) = _machine_jiffies();
	my (undef, undef, $cu, $cs) = POSIX::times();
	return { busy => $busy, total => $total,
	    reaped => ($cu + $cs) * 100 / $CLK_TCK,
	    procs => _our_procs($$, @PG_ROOTS) };
}

# -> percent of the whole machine (all CPUs) used outside the benchmark
# between two samples (a few percent of noise either way).
sub other_cpu {
	my ($s0, $s1) = @_;
	my $total = $s1->{total} - $s0->{total};
	return undef unless $total > 0;
	my $ours = $s1->{reaped} - $s0->{reaped};
	for my $p (keys %{ $s1->{procs} }) {
		$ours += $s1->{procs}{$p} - ($s0->{procs}{$p} // 0);
	}
	my $other = ($s1->{busy} - $s0->{busy}) - $ours;
	$other = 0 if $other < 0;
	return 100 * $other / $total;
}

# A Lua script carrying the row's method, headers and body.
sub _lua_script {
	my ($row, $user) = @_;
	my $q = sub {
		my ($s) = @_;
		my $eq = '=';
		$eq .= '=' while $s =~ /\]$eq\]/;
		return "[$eq\[$s]$eq]";
	};
	my %h = %{ $row->{headers} || {} };
	if (defined $user) {
		$h{Authorization} = 'Basic ' . encode_base64("$user:pw-$user", '');
	}
	if (defined $row->{body} && !grep { lc $_ eq 'content-type' } keys %h) {
		$h{'Content-Type'} = $row->{content_type} // 'application/json';
	}
	my $lua = "wrk.method = " . $q->($row->{method} // 'GET') . "\n";
	$lua .= "wrk.headers[" . $q->($_) . "] = " . $q->($h{$_}) . "\n"
	    for sort keys %h;
	$lua .= "wrk.body = " . $q->($row->{body}) . "\n" if defined $row->{body};
	return $lua;
}

sub _fmt_ms {
	my ($v) = @_;
	return '-' unless defined $v;
	return sprintf('%.3f', $v) if $v < 10;
	return sprintf('%.2f', $v) if $v < 100;
	return sprintf('%.1f', $v);
}

# --------------------------------------------------------------------
# preconditions, before anything starts

my $wrk = _which('wrk')
    or die "run.pl: wrk not found; install it (Debian: apt-get install -y wrk)\n";
my $builddir = abs_path($ENV{DASHCGI_BUILDDIR} // getcwd());
my $baseline = "$builddir/t/bench/baseline";
die "run.pl: $baseline not found; build it with `make t/bench/baseline` " .
    "(or `make bench`) in the build tree, or set DASHCGI_BUILDDIR\n"
    unless -x $baseline;

@ENDPOINTS = grep { $_->{name} =~ /$ENV{BENCH_ONLY}/ } @ENDPOINTS
    if defined $ENV{BENCH_ONLY};
die "run.pl: no endpoint matches BENCH_ONLY=$ENV{BENCH_ONLY}\n" unless @ENDPOINTS;

# The watchdog: every run, its warm-up and a margin, plus the setups.
my $nruns = 0;
my $setup_budget = 0;
for my $row (@ENDPOINTS) {
	my $n = @{ $row->{connections} || \@CONNS };
	$nruns += $n * ($row->{baseline} ? 2 : 1);
	$setup_budget += $row->{setup_timeout} // 300 if $row->{setup};
}
my $per_run = $DURATION + $WARMUP + 30;
my $budget = 300 + $setup_budget + $nruns * $per_run;

my @load_before = (split ' ', _slurp('/proc/loadavg'))[0 .. 2];

# --------------------------------------------------------------------
# start the servers

my $t = DashTest->new(workers => $WORKERS, auth => 1, watchdog => $budget,
    config => { log => { level => $LOG_LEVEL } });
die "run.pl: dashcgi is a sanitizer build (" . $t->bin . "); benchmark " .
    "a plain build: ../configure without --enable-sanitizers\n"
    if _slurp($t->bin) =~ /__asan_init|__ubsan_handle/;

my $needs_base = grep { $_->{baseline} } @ENDPOINTS;
my ($bt, $bpid);
if ($needs_base) {
	$bt = DashTest->new(pg => 0, migrate => 0, start => 0, auth => 1);
	$bpid = $bt->spawn([$baseline, $bt->socket_path, $WORKERS],
	    log => $bt->tmpdir . '/baseline.log');
	my $deadline = time + 15;
	for (;;) {
		my $r = $bt->request(GET => '/live', timeout => 2);
		last if $r->{status} == 200;
		die "run.pl: the baseline is not answering GET /live after 15s " .
		    "($r->{status} $r->{content})\n" . _slurp($bt->tmpdir .
		    '/baseline.log') if time > $deadline;
		sleep 0.05;
	}
}

# The PostgreSQL cluster is not our descendant (pg_ctl detaches it).
if (my ($pm) = _slurp($t->pg_socket_dir . '/data/postmaster.pid') =~ /^(\d+)/) {
	push @PG_ROOTS, $pm;
}

my ($nginx_workers) = _slurp($t->tmpdir . '/nginx.conf') =~
    /^\s*worker_processes\s+(\S+);/m;
my ($vrc, $version) = $t->run_dashcgi({ no_config => 1 }, 'version');
$version =~ s/\s+$//;
my $wrk_version = (`$wrk -v 2>&1` =~ /^(wrk \S+)/)[0] // 'wrk';
my ($cpu) = _slurp('/proc/cpuinfo') =~ /^model name\s*:\s*(.+)$/m;
my $nproc = `nproc 2>/dev/null`;
chomp $nproc;
$nproc ||= scalar(() = _slurp('/proc/cpuinfo') =~ /^processor\s*:/mg);
my ($memtotal) = _slurp('/proc/meminfo') =~ /^MemTotal:\s+(\d+)/m;

print "dashcgi benchmark, " . strftime('%Y-%m-%d %H:%M:%S %Z', localtime) . "\n";
print "  host          " . ((POSIX::uname())[1]) . ", " . join(' ',
    (POSIX::uname())[0, 2, 4]) . "\n";
print "  cpu           $nproc x " . ($cpu // 'unknown') . " (nproc)\n";
printf "  memory        %.1f GiB\n", ($memtotal // 0) / 1048576;
print "  load average  @load_before (1, 5, 15 min, before the runs)\n";
print "  dashcgi       $version, " . $t->bin . "\n";
print "                $WORKERS workers, log.level $LOG_LEVEL (the production " .
    "default: one log line per request)\n";
print "  baseline      $baseline, $WORKERS workers\n" if $bt;
print "  nginx         worker_processes " . ($nginx_workers // '?') .
    ", the shipped nginx/dashcgi.conf, no FastCGI keepalive; identical " .
    "for both backends\n";
print "  database      PostgreSQL 15, private cluster on a unix socket " .
    "(fsync off)\n";
print "  load          $wrk_version -t$THREADS -c{" . join(',', @CONNS) .
    "} -d${DURATION}s --latency --timeout $WRK_TIMEOUT, after a ${WARMUP}s " .
    "warm-up; wrk, nginx, dashcgi and PostgreSQL share this machine\n";
print "\n";

# --------------------------------------------------------------------
# the runs

# wrk as a DashTest-tracked process: stopped with everything else
# when the run is interrupted.  -> (exit code, output)
my $wrk_n = 0;
sub run_wrk {
	my ($srv, $cmd, $timeout) = @_;
	my $log = $srv->tmpdir . '/wrk-' . ++$wrk_n . '.out';
	my $pid = $srv->spawn($cmd, log => $log);
	my $rc = $srv->wait_spawned($pid, $timeout);
	if (!defined $rc) {
		$srv->stop_spawned($pid, 5);
		die "run.pl: wrk did not finish within ${timeout}s\n";
	}
	my $out = _slurp($log);
	unlink $log;
	return ($rc, $out);
}

my $script_n = 0;
sub wrk_run {
	my ($srv, $row, $conns) = @_;
	my $lua = $srv->tmpdir . '/bench-' . ++$script_n . '.lua';
	open(my $fh, '>', $lua) or die "run.pl: $lua: $!\n";
	print $fh _lua_script($row, $row->{user});
	close($fh) or die "run.pl: $lua: $!\n";
	my @cmd = ($wrk, "-t$THREADS", "-c$conns", '--timeout', $WRK_TIMEOUT,
	    '-s', $lua);
	my $url = $srv->url($row->{path});
	if ($WARMUP > 0) {
		my ($rc, $out) = run_wrk($srv, [@cmd, "-d${WARMUP}s", $url],
		    $WARMUP + 30);
		die "run.pl: wrk warm-up failed (exit $rc): $out\n" if $rc != 0;
	}
	my $c0 = cpu_sample();
	my ($rc, $out) = run_wrk($srv, [@cmd, "-d${DURATION}s", '--latency',
	    $url], $DURATION + 30);
	my $c1 = cpu_sample();
	die "run.pl: wrk failed (exit $rc): $out\n" if $rc != 0;
	my $r = _parse_wrk($out);
	$r->{other_cpu} = other_cpu($c0, $c1);
	die "run.pl: cannot read wrk's output:\n$out\n"
	    unless defined $r->{rps} && defined $r->{p99};
	$r->{raw} = $out;
	return $r;
}

# One request first: a row that does not answer what it expects is a
# broken benchmark, not a fast one.
sub check_row {
	my ($srv, $row, $what) = @_;
	my $r = $srv->request($row->{method} // 'GET', $row->{path},
	    defined $row->{user} ? (user => $row->{user}) : (),
	    headers => $row->{headers} || {},
	    defined $row->{body} ? (body => $row->{body}) : (),
	    exists $row->{content_type} ? (content_type => $row->{content_type}) : (),
	    timeout => 30);
	my $want = $row->{expect} // 200;
	die "run.pl: $what: $row->{name} answered $r->{status}, not $want: " .
	    substr($r->{content} // '', 0, 300) . "\n" if $r->{status} != $want;
}

my @results;
my $started = time;
for my $row (@ENDPOINTS) {
	if ($row->{setup}) {
		my $t0 = time;
		print "setup for $row->{name} ...\n";
		my $limit = $row->{setup_timeout} // 300;
		my $ok = eval {
			local $SIG{ALRM} = sub { die "setup exceeded ${limit}s\n" };
			alarm($limit);
			$row->{setup}->($t, $row);
			alarm(0);
			1;
		};
		my $e = $@;
		# Re-arm the whole-run watchdog with what is left of it.
		alarm(0);
		DashTest::_set_watchdog(int($budget - (time - $started)) + 1);
		die "run.pl: setup for $row->{name} failed: $e" unless $ok;
		printf "setup for %s took %.1fs\n", $row->{name}, time - $t0;
	}
	check_row($t, $row, 'dashcgi');
	check_row($bt, $row, 'baseline') if $row->{baseline};
	for my $c (@{ $row->{connections} || \@CONNS }) {
		my $d = wrk_run($t, $row, $c);
		my $base = $row->{baseline} ? wrk_run($bt, $row, $c) : undef;
		push @results, { name => $row->{name}, server => 'dashcgi',
		    connections => $c, %$d };
		push @results, { name => $row->{name}, server => 'baseline',
		    connections => $c, %$base } if $base;
		if ($base) {
			$results[-2]{rps_ratio} = $d->{rps} / $base->{rps}
			    if $base->{rps};
			$results[-2]{p50_ratio} = $d->{p50} / $base->{p50}
			    if $base->{p50};
		}
		printf STDERR "# %-22s %-8s c=%-3d %9.0f req/s\n", $row->{name},
		    'dashcgi', $c, $d->{rps};
		printf STDERR "# %-22s %-8s c=%-3d %9.0f req/s\n", $row->{name},
		    'baseline', $c, $base->{rps} if $base;
	}
}

my @load_after = (split ' ', _slurp('/proc/loadavg'))[0 .. 2];

# Memory after the runs.
sub _status_kb {
	my ($pid, $key) = @_;
	my ($v) = _slurp("/proc/$pid/status") =~ /^$key:\s+(\d+)\s+kB/m;
	return $v;
}
my @mem;
push @mem, ['dashcgi master', $t->master_pid] if $t->master_pid;
my $i = 0;
push @mem, ['dashcgi worker ' . ++$i, $_] for $t->worker_pids;
if ($bt) {
	my @kids = grep { ((_slurp("/proc/$_/stat") =~ /\)\s+\S\s+(\d+)/)[0] // 0) == $bpid }
	    grep { /^\d+$/ } do { opendir(my $d, '/proc'); readdir $d };
	$i = 0;
	push @mem, ['baseline worker ' . ++$i, $_] for sort { $a <=> $b } @kids;
}

# --------------------------------------------------------------------
# the report

print "\n";
my @hdr = ('endpoint', 'server', 'conns', 'req/s', 'p50 ms', 'p90 ms',
    'p99 ms', 'errors', 'rps/base', 'p50/base', 'other cpu');
my @rows;
for my $r (@results) {
	push @rows, [ $r->{name}, $r->{server}, $r->{connections},
	    sprintf('%.0f', $r->{rps}), _fmt_ms($r->{p50}), _fmt_ms($r->{p90}),
	    _fmt_ms($r->{p99}), $r->{errors},
	    defined $r->{rps_ratio} ? sprintf('%.2f', $r->{rps_ratio}) : '',
	    defined $r->{p50_ratio} ? sprintf('%.2f', $r->{p50_ratio}) : '',
	    defined $r->{other_cpu} ? sprintf('%.0f%%', $r->{other_cpu}) : '?' ];
}
my @w = map { length } @hdr;
for my $row (@rows) {
	for my $k (0 .. $#$row) {
		$w[$k] = length $row->[$k] if length $row->[$k] > $w[$k];
	}
}
my $line = sub {
	my ($cells) = @_;
	return join('  ', map {
		$_ <= 1 ? sprintf('%-*s', $w[$_], $cells->[$_])
		    : sprintf('%*s', $w[$_], $cells->[$_])
	} 0 .. $#$cells) . "\n";
};
print $line->(\@hdr);
print join('  ', map { '-' x $_ } @w), "\n";
my $prev = '';
for my $row (@rows) {
	print "\n" if $prev ne '' && $row->[0] ne $prev;
	$prev = $row->[0];
	print $line->($row);
}
print "\n";
print "rps/base, p50/base: dashcgi divided by the baseline at the same " .
    "connection count\n  (the baseline is a bare libfcgi responder: no " .
    "routing, logging, metrics or database).\n";
print "errors: non-2xx answers plus socket errors (connect, read, write, " .
    "timeout > $WRK_TIMEOUT).\n";
print "other cpu: share of the whole machine ($nproc CPUs) busy with " .
    "processes outside the benchmark\n  during the run; " .
    "more than a few percent means the figures are disturbed.\n";
for my $r (grep { $_->{socket_errors} } @results) {
	print "  $r->{name} $r->{server} c=$r->{connections}: socket errors " .
	    "$r->{socket_errors}\n";
}
print "load average  @load_after after the runs (was @load_before)\n";
print "\nresident memory after the runs (VmRSS, peak VmHWM):\n";
for my $m (@mem) {
	my ($rss, $hwm) = map { _status_kb($m->[1], $_) } qw(VmRSS VmHWM);
	printf "  %-18s pid %-7d %7s kB  (peak %s kB)\n", $m->[0], $m->[1],
	    $rss // '?', $hwm // '?';
}

if (my $f = $ENV{BENCH_JSON}) {
	my $doc = {
		time => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime),
		conditions => { nproc => $nproc, cpu => $cpu,
		    loadavg_before => \@load_before, loadavg_after => \@load_after,
		    dashcgi_workers => $WORKERS, nginx_worker_processes => $nginx_workers,
		    log_level => $LOG_LEVEL, duration => $DURATION, warmup => $WARMUP,
		    threads => $THREADS, version => $version },
		results => [ map { my %h = %$_; delete $h{raw}; \%h } @results ],
		memory_kb => { map { $_->[0] => _status_kb($_->[1], 'VmRSS') } @mem },
	};
	open(my $fh, '>', $f) or die "run.pl: $f: $!\n";
	print $fh JSON::PP->new->canonical->pretty->encode($doc);
	close($fh) or die "run.pl: $f: $!\n";
	print "results written to $f\n";
}

$bt->cleanup if $bt;
$t->cleanup;
exit 0;
