package DashTest;

# DashTest -- the integration harness: a private PostgreSQL 15 cluster,
# dashcgi itself and a real nginx carrying the shipped snippet, all in
# one temporary directory that disappears with the object.
#
# Owns: every process it starts (dashcgi master and workers, nginx,
# postmaster, background psql and load clients) and the temp dir.
# Never: touch anything outside its temp dir, leave a process behind
# (even when the test dies or is interrupted), or skip silently: a
# missing tool is a clear die, not a pass.
#
# Core Perl modules only.  Every wait is bounded in time.
#
#   my $t = DashTest->new(workers => 2, config => {max_body => '1KiB'},
#                         nginx => 1, migrate => 1, start => 1, auth => 1);
#   my $r = $t->request(GET => '/api/v1/me', user => 'alice');
#   is($r->{status}, 200); my $j = $t->json($r);
#
# new(%opts): workers (2), config ({nested overrides}; undef deletes a
#   key), nginx (1), migrate (1), start (1), auth (1: server-level
#   auth_basic, users @USERS with password "pw-<name>"; with auth => 0
#   a request without a user reaches dashcgi, which answers 401 itself),
#   pg (1; forced on by migrate/start), env ({VAR => value} for dashcgi),
#   migrations_dir, socket (the FastCGI socket dashcgi listens on and
#   nginx points at; default <tmp>/dashcgi.sock: with start => 0 nginx
#   can front a backend started elsewhere, e.g. by spawn), nginx_port
#   (default a free one; a fixed port that is taken is a clear die),
#   watchdog (seconds for the whole process, default
#   DASHCGI_TEST_TIMEOUT or 900; 0 = none, for a long-lived demo),
#   listen6 (0; 1: nginx also listens on [::1]:<nginx_port>, for
#   request(..., ipv6 => 1); check ::1 exists before asking),
#   nginx_http_filter (sub ($text) -> $text: edits nginx/dashcgi-http.conf
#   once its socket is pointed at the test, e.g. a benchmark raising
#   the share-link rate limit), www (a built web UI directory, e.g.
#   web/dist: the snippet's `root` for the UI points there instead of
#   the installed /usr/share/dashcgi/www), roles (0; 1, or the
#   environment's DASHCGI_TEST_ROLES=1: two database roles as installed,
#   dashcgi_owner owning the schema and running migrate through
#   database.migrate_url, dashcgi the service; db_user names the latter).
#   The servers live until END or $t->cleanup.
# HTTP:    request($method, $path, user, password, headers, body, json,
#          content_type ('' = none), timeout, local_address, ipv6)
#          through nginx; fcgi_request(...) straight to the socket (params => {});
#          json($res); header($res, $name); url($path)
# dashcgi: start_dashcgi(wait => 0|1, env => {}); stop_dashcgi($sig,
#          $timeout) -> exit code (128+N if killed; $t->{stragglers});
#          wait_dashcgi_exit($timeout); signal_master($sig);
#          dashcgi_running; master_pid; worker_pids; wait_workers($n,
#          $timeout, exclude => [...]); run_dashcgi([{env, timeout,
#          no_config}], @args) -> ($exit, $stdout, $stderr)
# config:  write_config(\%overrides) (defaults + new()'s + these);
#          write_config_raw($text); config_path; config
# logs:    log; log_mark; wait_log(qr//, $timeout, $from);
#          log_lines(qr//, $from) -> parsed hashrefs (raw line in "_");
#          parse_logline($line)
# pg:      psql($sql, db => ...); psql_ok($sql) -> ($ok, $out);
#          psql_bg($sql) -> pid; psql_bg_output($pid); pg_stop; pg_start
# misc:    bg(sub {...}) -> pid; wait_pid($pid, $timeout) -> exit code;
#          spawn(\@cmd, log => file, env => {}) -> pid (own process
#          group, killed with it at cleanup); wait_spawned($pid,
#          $timeout) -> exit code; stop_spawned($pid, $timeout)
#          load_start(clients, duration, method, path, user, body,
#          expect, max) / load_wait($h) -> {total, ok, fail, statuses,
#          errors}; metrics_text; metric_value($text, $name, {labels});
#          promtool_check($text) -> ($ok, $output); run_cmd(\@cmd, %o)
#          tmpdir; socket_path; nginx_port; nginx_running; srcdir; bin
#
# Environment (make check sets the first three):
#   DASHCGI_BIN       the binary           (default: ./dashcgi)
#   DASHCGI_SRCDIR    the source tree      (default: two levels above this file)
#   DASHCGI_BUILDDIR  the build tree       (default: the current directory)
#   DASHCGI_KEEP_TMP=1  keep the temp dir (its path is printed)
#   DASHCGI_TEST_TIMEOUT  watchdog for a whole test file, seconds (default 900)
#   DASHCGI_PGBIN     PostgreSQL binaries  (default /usr/lib/postgresql/15/bin)
#   DASHCGI_TEST_POOLER=pgbouncer  dashcgi goes through a PgBouncer in
#                     transaction mode (pool 1); see _via_pooler
#   DASHCGI_NGINX     nginx binary         (default: nginx in PATH, /usr/sbin/nginx)

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path getcwd);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use POSIX qw(:sys_wait_h _exit setpgid);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(sleep time);

our $VERSION = '1';

# The users written to htpasswd; each password is "pw-<name>".
our @USERS = qw(alice bob carol dave admin);

my @LIVE;			# every instance, for END and signals
my $SEQ = 0;			# unique names for files of _run etc.
my $HERE = dirname(abs_path(__FILE__));
my ($OWNER, $SERVICE) = qw(dashcgi_owner dashcgi);	# roles => 1

# Variables that would override the test config (SPEC §3): never let
# the caller's environment leak into a dashcgi the harness starts.
my @ENV_OVERRIDES = qw(DATABASE_URL DB_HOST DB_PORT DB_NAME DB_USER
    DB_PASSWORD DB_SSLMODE DB_CONNECT_TIMEOUT DB_QUERY_TIMEOUT
    DB_CONN_MAX_LIFETIME DB_MAX_OPEN_CONNS DB_MIGRATE_URL DASHCGI_LISTEN);

# --------------------------------------------------------------------
# construction and teardown

sub new {
	my ($class, %o) = @_;
	my $self = bless {
		owner		=> $$,
		workers		=> $o{workers} // 2,
		nginx		=> $o{nginx} // 1,
		migrate		=> $o{migrate} // 1,
		start		=> $o{start} // 1,
		auth		=> $o{auth} // 1,
		pg		=> $o{pg} // 1,
		overrides	=> $o{config} || {},
		env		=> $o{env} || {},
		bg		=> {},
		spawned		=> {},
		fixed_port	=> $o{nginx_port},
		socket_opt	=> $o{socket},
		listen6		=> $o{listen6},
		nginx_http_filter => $o{nginx_http_filter},
		durable		=> $o{durable} // 0,
		www		=> $o{www},
		roles		=> $o{roles} // $ENV{DASHCGI_TEST_ROLES} // 0,
	}, $class;
	$self->{pg} = 1 if $self->{migrate} || $self->{start};

	my $src = $ENV{DASHCGI_SRCDIR} // abs_path("$HERE/../..");
	my $build = $ENV{DASHCGI_BUILDDIR} // getcwd();
	$self->{srcdir} = abs_path($src) // $src;
	$self->{builddir} = abs_path($build) // $build;
	$self->{bin} = $ENV{DASHCGI_BIN} // _default_bin($self->{builddir},
	    $self->{srcdir});
	$self->{migrations_dir} = $o{migrations_dir}
	    // "$self->{srcdir}/migrations";
	$self->{pgbin} = $ENV{DASHCGI_PGBIN} // '/usr/lib/postgresql/15/bin';

	# A strong reference: the servers live until END (or an explicit
	# $t->cleanup), never half torn down by a DESTROY a signal can
	# interrupt.
	push @LIVE, $self;
	_install_signals();
	if (defined $o{watchdog}) {
		_set_watchdog($o{watchdog});
	}

	my $ok = eval { $self->_setup(%o); 1 };
	if (!$ok) {
		my $e = $@;
		$self->_dump_logs(1);
		$self->cleanup;
		die $e;
	}
	return $self;
}

sub _default_bin {
	my ($build, $src) = @_;
	for my $c ("$build/dashcgi", getcwd() . '/dashcgi', "$src/dashcgi") {
		return $c if -x $c;
	}
	return "$build/dashcgi";
}

my $SIGNALS_INSTALLED = 0;
our $IN_CLEANUP = 0;		# signals must not abort a cleanup

# INT/TERM/QUIT become a die, so END cleans up; a watchdog bounds the
# whole test file.
sub _install_signals {
	return if $SIGNALS_INSTALLED++;
	for my $sig (qw(INT TERM QUIT)) {
		my $cur = $SIG{$sig};
		next if defined $cur && ref $cur;
		$SIG{$sig} = sub {
			return if $IN_CLEANUP;
			_cleanup_all(1);
			die "DashTest: caught SIG$_[0], cleaned up\n";
		};
	}
	$SIG{PIPE} = 'IGNORE';
	_set_watchdog($ENV{DASHCGI_TEST_TIMEOUT} // 900);
}

# (Re)arm the watchdog for the whole process: $limit seconds from now,
# 0 = none.
sub _set_watchdog {
	my ($limit) = @_;
	alarm(0);
	return unless $limit > 0;
	$SIG{ALRM} = sub {
		return if $IN_CLEANUP;
		_cleanup_all(1);
		die "DashTest: test file exceeded ${limit}s " .
		    "(DASHCGI_TEST_TIMEOUT), cleaning up\n";
	};
	alarm($limit);
}

sub _setup {
	my ($self, %o) = @_;

	my $base = $ENV{DASHCGI_TMPDIR} // '/tmp';
	# Unix socket paths are limited to 107 bytes: keep the dir short.
	$base = '/tmp' if length($base) > 60;
	$self->{tmp} = tempdir('dashcgi-t-XXXXXX', DIR => $base, CLEANUP => 0);
	chmod 0755, $self->{tmp};	# the postgres user must traverse it
	$self->{socket} = $self->{socket_opt} // "$self->{tmp}/dashcgi.sock";
	$self->{logfile} = "$self->{tmp}/dashcgi.log";

	# A fixed port that is taken fails now, not after initdb.
	_check_port_free($self->{fixed_port})
	    if $self->{nginx} && defined $self->{fixed_port};
	if (($self->{migrate} || $self->{start}) && !-x $self->{bin}) {
		die "DashTest: dashcgi binary not found or not executable: " .
		    "$self->{bin} (build it first, or set DASHCGI_BIN)\n";
	}

	$self->_pg_init if $self->{pg};
	$self->write_config;
	if ($self->{migrate}) {
		my ($rc, $out, $err) = $self->run_dashcgi('migrate', 'up');
		die "DashTest: `dashcgi migrate up` failed (exit $rc):\n$out$err"
		    if $rc != 0;
	}
	$self->_via_pooler if $self->{pg} && ($ENV{DASHCGI_TEST_POOLER} // '')
	    eq 'pgbouncer';
	$self->_nginx_start if $self->{nginx};
	$self->start_dashcgi if $self->{start};
}

sub cleanup {
	my ($self) = @_;
	return if !$self || $self->{cleaned} || ($self->{owner} // 0) != $$;
	$self->{cleaned} = 1;
	local ($?, $!, $@);
	local $IN_CLEANUP = 1;

	eval { $self->stop_dashcgi('TERM', 10) if $self->{master_pid}; 1 }
	    or warn $@;
	for my $pid (keys %{ $self->{bg} }) {
		kill 'KILL', $pid;
		waitpid($pid, 0);
	}
	$self->{bg} = {};
	for my $pid (keys %{ $self->{spawned} }) {
		eval { $self->stop_spawned($pid, 5); 1 } or warn $@;
	}
	eval { $self->_nginx_stop; 1 } or warn $@;
	eval { $self->_pg_destroy; 1 } or warn $@;

	my $tmp = $self->{tmp};
	return unless defined $tmp && -d $tmp;
	if ($ENV{DASHCGI_KEEP_TMP}) {
		print STDERR "# DashTest: kept $tmp\n";
	} else {
		remove_tree($tmp, { safe => 1 });
	}
}

sub DESTROY {
	my ($self) = @_;
	local $IN_CLEANUP = 1;
	local $@;
	eval { $self->_dump_logs if !$self->{cleaned} && ($self->{owner} // 0) == $$ };
	$self->cleanup;
}

sub _cleanup_all {
	my ($failing) = @_;
	local $IN_CLEANUP = 1;
	for my $t (@LIVE) {
		next unless $t && ($t->{owner} // 0) == $$;
		eval { $t->_dump_logs($failing) unless $t->{cleaned} };
		$t->cleanup;
	}
}

END {
	my $exit = $?;		# what the test file is about to exit with
	local $?;
	_cleanup_all($exit != 0);
}

# On a failing test, show what the servers said (once).
sub _dump_logs {
	my ($self, $failing) = @_;
	return if $self->{dumped}++ || ($self->{owner} // 0) != $$;
	return unless defined $self->{tmp} && -d $self->{tmp};
	if (!$failing && Test::Builder->can('new')) {
		my $tb = Test::Builder->new;
		$failing = !$tb->is_passing;
	}
	return unless $failing;
	for my $f (qw(dashcgi.log nginx-error.log pg/postgresql.log)) {
		my $p = "$self->{tmp}/$f";
		next unless -s $p;
		my @l = split /\n/, _slurp($p);
		splice(@l, 0, @l - 40) if @l > 40;
		print STDERR "# --- last lines of $f ---\n",
		    map({ "#   $_\n" } @l);
	}
}

# --------------------------------------------------------------------
# accessors

sub tmpdir	{ $_[0]{tmp} }
sub config_path	{ "$_[0]{tmp}/dashcgi.yaml" }
sub socket_path	{ $_[0]{socket} }
sub nginx_port	{ $_[0]{nginx_port} }
sub master_pid	{ $_[0]{master_pid} }
sub bin		{ $_[0]{bin} }
sub srcdir	{ $_[0]{srcdir} }
sub pg_socket_dir { "$_[0]{tmp}/pg" }
sub pg_port	{ $_[0]{pg_port} }
# The role dashcgi logs in as: the superuser, or with roles => 1 the
# service role that owns nothing.
sub db_user	{ $_[0]{roles} ? $SERVICE : 'postgres' }
sub url		{ my ($s, $p) = @_; "http://127.0.0.1:$s->{nginx_port}$p" }

# Is the nginx master still running?  (Reaps it when it is gone.)
sub nginx_running {
	my $pid = $_[0]{nginx_pid} or return 0;
	return waitpid($pid, WNOHANG) == 0;
}

# --------------------------------------------------------------------
# process helpers

sub _is_root { $> == 0 }

sub _slurp {
	my ($p) = @_;
	open(my $fh, '<', $p) or return '';
	local $/;
	my $c = <$fh>;
	return $c // '';
}

sub _spew {
	my ($p, $c, $mode) = @_;
	open(my $fh, '>', $p) or die "DashTest: cannot write $p: $!\n";
	print $fh $c;
	close($fh) or die "DashTest: cannot write $p: $!\n";
	chmod $mode, $p if defined $mode;
}

sub free_port {
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
	    Proto => 'tcp', Listen => 1, ReuseAddr => 1)
	    or die "DashTest: cannot find a free port: $!\n";
	my $p = $s->sockport;
	close $s;
	return $p;
}

# Die clearly when nothing can listen on 127.0.0.1:$port.
sub _check_port_free {
	my ($p) = @_;
	die "DashTest: nginx_port must be a port number, not '$p'\n"
	    unless $p =~ /^[1-9][0-9]*$/ && $p < 65536;
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
	    LocalPort => $p, Proto => 'tcp', Listen => 1, ReuseAddr => 1)
	    or die "DashTest: port $p on 127.0.0.1 is taken ($!): stop " .
	    "whatever listens there (ss -ltnp 'sport = :$p') and try again\n";
	close $s;
}

sub _which {
	my ($name, @extra) = @_;
	for my $d (split(/:/, $ENV{PATH} // ''), @extra) {
		return "$d/$name" if $d ne '' && -x "$d/$name";
	}
	return undef;
}

# Decode a wait status: exit code, 128+signal, like a shell.
sub _status {
	my ($st) = @_;
	return WIFEXITED($st) ? WEXITSTATUS($st)
	    : WIFSIGNALED($st) ? 128 + WTERMSIG($st) : $st;
}

# Wait for a child, at most $timeout seconds.  Returns the raw wait
# status, or undef when it is still running.
sub _waitpid_bounded {
	my ($pid, $timeout) = @_;
	my $deadline = time + $timeout;
	for (;;) {
		my $r = waitpid($pid, WNOHANG);
		return $? if $r == $pid;
		return -1 if $r < 0;		# not our child / gone
		return undef if time > $deadline;
		sleep 0.02;
	}
}

# Run a command to completion: ($exit, $stdout, $stderr).
#   stdin => text, env => {VAR => value|undef}, timeout => s (60),
#   as_pg => 1 (run as the postgres user when we are root), cwd => dir
# $exit is the exit code, 128+N for signal N, -1 on timeout (killed).
sub _run {
	my ($self, $cmd, %o) = @_;
	my $n = ++$SEQ;
	my $dir = $self->{tmp} // '/tmp';
	my ($in, $out, $err) = map { "$dir/.run-$$-$n.$_" } qw(in out err);
	_spew($in, $o{stdin} // '');
	my @cmd = @$cmd;
	if ($o{as_pg} && _is_root()) {
		my $ru = _which('runuser', '/usr/sbin', '/sbin')
		    or die "DashTest: runuser not found (util-linux), needed " .
		    "to run PostgreSQL as the postgres user while root\n";
		@cmd = ($ru, '-u', 'postgres', '--', @cmd);
	}
	my $pid = fork() // die "DashTest: fork: $!\n";
	if ($pid == 0) {
		eval {
			chdir($o{cwd} // $dir);
			open(STDIN, '<', $in) or die "stdin: $!";
			open(STDOUT, '>', $out) or die "stdout: $!";
			open(STDERR, '>', $err) or die "stderr: $!";
			while (my ($k, $v) = each %{ $o{env} || {} }) {
				if (defined $v) { $ENV{$k} = $v } else { delete $ENV{$k} }
			}
			exec { $cmd[0] } @cmd;
			die "exec $cmd[0]: $!";
		};
		print STDERR "$@\n";
		_exit(127);
	}
	my $timeout = $o{timeout} // 60;
	my $st = _waitpid_bounded($pid, $timeout);
	my $rc;
	if (!defined $st) {
		kill 'KILL', $pid;
		waitpid($pid, 0);
		$rc = -1;
	} else {
		$rc = _status($st);
	}
	my ($so, $se) = (_slurp($out), _slurp($err));
	$se .= "\nDashTest: @cmd timed out after ${timeout}s\n" if $rc == -1;
	unlink $in, $out, $err;
	return ($rc, $so, $se);
}

sub run_cmd {
	my ($self, $cmd, %o) = @_;
	return $self->_run($cmd, %o);
}

# Environment for every dashcgi the harness starts.
sub _dashcgi_env {
	my ($self, $extra) = @_;
	my %env = map { $_ => undef } @ENV_OVERRIDES;
	$env{DASHCGI_MIGRATIONS_DIR} = $self->{migrations_dir};
	%env = (%env, %{ $self->{env} }, %{ $extra || {} });
	return \%env;
}

# $t->run_dashcgi([{env => {...}, timeout => s, no_config => 1},] @args)
#   -> ($exit, $stdout, $stderr); "-c <config>" is prepended.
sub run_dashcgi {
	my ($self, @args) = @_;
	my $o = (@args && ref $args[0] eq 'HASH') ? shift @args : {};
	die "DashTest: dashcgi binary not found: $self->{bin}\n"
	    unless -x $self->{bin};
	my @cmd = ($self->{bin});
	push @cmd, '-c', $self->config_path unless $o->{no_config};
	return $self->_run([@cmd, @args], env => $self->_dashcgi_env($o->{env}),
	    timeout => $o->{timeout} // 120, stdin => $o->{stdin});
}

# Run code in a forked child; returns its pid (reaped by wait_pid or at
# cleanup).  The child's exit code is the sub's return value (0 when
# undef), 255 if it dies.  The child never runs END blocks.
sub bg {
	my ($self, $code) = @_;
	my $pid = fork() // die "DashTest: fork: $!\n";
	if ($pid == 0) {
		$SIG{ALRM} = 'DEFAULT';
		alarm(0);
		my $rc = eval { $code->() };
		if ($@) {
			print STDERR "DashTest bg child $$: $@";
			_exit(255);
		}
		_exit(defined $rc && $rc =~ /^\d+$/ ? $rc : 0);
	}
	$self->{bg}{$pid} = 1;
	return $pid;
}

# spawn(\@cmd, log => $file (default <tmp>/spawn-<n>.log), env => {},
#   cwd => dir) -> pid.  Starts a program (e.g. a backend for nginx
#   to front) in its own process group; cleanup stops the group.
sub spawn {
	my ($self, $cmd, %o) = @_;
	my @cmd = @$cmd;
	my $log = $o{log} // "$self->{tmp}/spawn-" . ++$SEQ . '.log';
	my $pid = fork() // die "DashTest: fork: $!\n";
	if ($pid == 0) {
		eval {
			setpgid(0, 0);
			$SIG{$_} = 'DEFAULT' for qw(INT TERM QUIT HUP PIPE ALRM);
			alarm(0);
			chdir($o{cwd} // $self->{tmp});
			open(STDIN, '<', '/dev/null') or die "stdin: $!";
			open(STDOUT, '>>', $log) or die "$log: $!";
			open(STDERR, '>&', \*STDOUT) or die "stderr: $!";
			while (my ($k, $v) = each %{ $o{env} || {} }) {
				if (defined $v) { $ENV{$k} = $v } else { delete $ENV{$k} }
			}
			exec { $cmd[0] } @cmd;
			die "exec $cmd[0]: $!";
		};
		print STDERR "DashTest: $@\n";
		_exit(127);
	}
	setpgid($pid, $pid);
	$self->{spawned}{$pid} = 1;
	return $pid;
}

# wait_spawned($pid, $timeout = 30) -> exit code once it exited by
# itself (its group is then no longer tracked), undef if still running.
sub wait_spawned {
	my ($self, $pid, $timeout) = @_;
	return undef unless $self->{spawned}{$pid};
	my $st = _waitpid_bounded($pid, $timeout // 30);
	return undef unless defined $st;
	delete $self->{spawned}{$pid};
	kill 'KILL', -$pid if $self->_group_pids($pid);
	return $st >= 0 ? _status($st) : -1;
}

# stop_spawned($pid, $timeout = 10) -> exit code: SIGTERM to the
# process group, SIGKILL to it after $timeout.
sub stop_spawned {
	my ($self, $pid, $timeout) = @_;
	return undef unless delete $self->{spawned}{$pid};
	kill 'TERM', -$pid;
	kill 'TERM', $pid;
	my $st = _waitpid_bounded($pid, $timeout // 10);
	my $deadline = time + 2;
	while ($self->_group_pids($pid) && time < $deadline) {
		sleep 0.05;
	}
	kill 'KILL', -$pid if $self->_group_pids($pid);
	if (!defined $st) {
		kill 'KILL', $pid;
		$st = _waitpid_bounded($pid, 5);
	}
	return defined $st && $st >= 0 ? _status($st) : undef;
}

# -> exit code of a bg/psql_bg child, undef if still running after $timeout.
sub wait_pid {
	my ($self, $pid, $timeout) = @_;
	my $st = _waitpid_bounded($pid, $timeout // 30);
	return undef unless defined $st;
	delete $self->{bg}{$pid};
	return _status($st);
}

# --------------------------------------------------------------------
# PostgreSQL

sub _pg_init {
	my ($self) = @_;
	my $bin = $self->{pgbin};
	for my $b (qw(initdb pg_ctl postgres psql)) {
		die "DashTest: PostgreSQL 15 binary $bin/$b not found; install " .
		    "postgresql-15 (Debian) or set DASHCGI_PGBIN\n"
		    unless -x "$bin/$b";
	}
	my $pg = $self->pg_socket_dir;
	mkdir $pg, 0700 or die "DashTest: mkdir $pg: $!\n";
	if (_is_root()) {
		my (undef, undef, $uid, $gid) = getpwnam('postgres')
		    or die "DashTest: running as root but there is no " .
		    "`postgres` user to run PostgreSQL as (install postgresql-15)\n";
		chown $uid, $gid, $pg or die "DashTest: chown $pg: $!\n";
	}
	$self->{pg_port} = free_port();
	my ($rc, $out, $err) = $self->_run(["$bin/initdb", '-D', "$pg/data",
	    '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C',
	    '--no-sync'], as_pg => 1, timeout => 180);
	die "DashTest: initdb failed (exit $rc):\n$out$err" if $rc != 0;

	# Unix socket only, in our dir.  Durability off for speed, unless
	# the caller measures or keeps what it writes (durable => 1: the
	# demo, durability tests, write benchmarks).
	my $sync = $self->{durable} ? 'on' : 'off';
	my $conf = <<"EOF";

# --- DashTest ---
listen_addresses = ''
port = $self->{pg_port}
unix_socket_directories = '$pg'
max_connections = 60
shared_buffers = 16MB
fsync = $sync
synchronous_commit = $sync
full_page_writes = $sync
timezone = 'UTC'
log_timezone = 'UTC'
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
	my $pc = "$pg/data/postgresql.conf";
	my ($ok, $e2) = (0, '');
	if (open(my $fh, '>>', $pc)) {
		print $fh $conf;
		$ok = close $fh;
	}
	die "DashTest: cannot append to $pc: $!\n" unless $ok;
	$self->pg_start;
	$self->psql('CREATE DATABASE dashcgi', db => 'postgres');
	# roles => 1: the installed shape (README, Security): dashcgi_owner
	# owns the database and runs the migrations, the service logs in
	# as dashcgi with what migrate grants it.
	$self->psql("CREATE ROLE $OWNER LOGIN;\nCREATE ROLE $SERVICE LOGIN;\n" .
	    "ALTER DATABASE dashcgi OWNER TO $OWNER", db => 'postgres')
	    if $self->{roles};
}

sub pg_start {
	my ($self) = @_;
	my $pg = $self->pg_socket_dir;
	my ($rc, $out, $err) = $self->_run(["$self->{pgbin}/pg_ctl", '-D',
	    "$pg/data", '-l', "$pg/postgresql.log", '-w', '-t', '60', '-s',
	    'start'], as_pg => 1, timeout => 90);
	$self->{pg_running} = 1;	# even on failure: cleanup checks
	die "DashTest: PostgreSQL did not start (exit $rc):\n$out$err\n" .
	    _slurp("$pg/postgresql.log") if $rc != 0;
	return 1;
}

sub pg_stop {
	my ($self, $mode) = @_;
	my $pg = $self->pg_socket_dir;
	my ($rc, $out, $err) = $self->_run(["$self->{pgbin}/pg_ctl", '-D',
	    "$pg/data", '-m', $mode // 'fast', '-w', '-t', '60', '-s', 'stop'],
	    as_pg => 1, timeout => 90);
	die "DashTest: pg_ctl stop failed (exit $rc):\n$out$err" if $rc != 0;
	$self->{pg_running} = 0;
	return 1;
}

sub _postmaster_pid {
	my ($self) = @_;
	my $f = $self->pg_socket_dir . '/data/postmaster.pid';
	my ($pid) = _slurp($f) =~ /^(\d+)/;
	return $pid;
}

sub _pg_destroy {
	my ($self) = @_;
	return unless $self->{tmp} && -d $self->pg_socket_dir . '/data';
	my $pid = $self->_postmaster_pid;
	return unless $pid && kill(0, $pid);
	$self->_run(["$self->{pgbin}/pg_ctl", '-D', $self->pg_socket_dir .
	    '/data', '-m', 'immediate', '-w', '-t', '30', '-s', 'stop'],
	    as_pg => 1, timeout => 45);
	for (1 .. 100) {
		last unless kill(0, $pid);
		sleep 0.05;
	}
	if (kill(0, $pid)) {
		kill 'KILL', $pid;	# children notice the postmaster died
		sleep 0.5;
	}
	$self->{pg_running} = 0;
}

# psql($sql, db => 'dashcgi', user => 'postgres', timeout => 60) -> output;
# dies on error.
sub psql {
	my ($self, $sql, %o) = @_;
	my ($ok, $out) = $self->psql_ok($sql, %o);
	die "DashTest: psql failed: $out\nSQL: $sql\n" unless $ok;
	return $out;
}

sub _psql_cmd {
	my ($self, %o) = @_;
	return ["$self->{pgbin}/psql", '-XAtq', '-v', 'ON_ERROR_STOP=1',
	    '-h', $self->pg_socket_dir, '-p', $self->{pg_port}, '-U',
	    $o{user} // 'postgres',
	    '-d', $o{db} // 'dashcgi', '-f', '-'];
}

sub _psql_env { { PGPASSWORD => undef, PGSERVICE => undef, PGOPTIONS => undef,
    PGAPPNAME => 'dashtest', PGCONNECT_TIMEOUT => 10 } }

# -> ($ok, $output): output is stdout on success, stdout+stderr on failure.
sub psql_ok {
	my ($self, $sql, %o) = @_;
	croak 'DashTest: no PostgreSQL in this test (pg => 0)' unless $self->{pg_port};
	my ($rc, $out, $err) = $self->_run($self->_psql_cmd(%o), stdin => $sql,
	    env => _psql_env(), timeout => $o{timeout} // 60);
	chomp $out;
	return (1, $out) if $rc == 0;
	return (0, "$out$err");
}

# Run SQL in a background psql (e.g. to hold a lock); -> pid for
# wait_pid.  Its output goes to <tmp>/psql-bg-<pid>.log.
sub psql_bg {
	my ($self, $sql, %o) = @_;
	my $cmd = $self->_psql_cmd(%o);
	my $in = "$self->{tmp}/.psql-bg-" . ++$SEQ . '.sql';
	_spew($in, $sql);
	my $env = _psql_env();
	my $tmp = $self->{tmp};
	my $pid = fork() // die "DashTest: fork: $!\n";
	if ($pid == 0) {
		eval {
			open(STDIN, '<', $in) or die "stdin: $!";
			open(STDOUT, '>', "$tmp/psql-bg-$$.log") or die "out: $!";
			open(STDERR, '>&', \*STDOUT) or die "err: $!";
			while (my ($k, $v) = each %$env) {
				if (defined $v) { $ENV{$k} = $v } else { delete $ENV{$k} }
			}
			exec { $cmd->[0] } @$cmd;
			die "exec psql: $!";
		};
		print STDERR "$@\n";
		_exit(127);
	}
	$self->{bg}{$pid} = 1;
	return $pid;
}

sub psql_bg_output { _slurp("$_[0]{tmp}/psql-bg-$_[1].log") }

# --------------------------------------------------------------------
# configuration

# DASHCGI_TEST_POOLER=pgbouncer: dashcgi reaches PostgreSQL through a
# PgBouncer in transaction mode with a pool of 1 (t/lib/DashScale.pm),
# so that any test file re-runs through it; psql() stays direct.
sub _via_pooler {
	my ($self) = @_;
	require DashScale;
	my $b = DashScale::pgbouncer($self, pool_size => 1);
	$self->{overrides} = _merge({ database => { host => $b->{dir},
	    port => $b->{port}, pooler => 'pgbouncer',
	    prepared_statements => 'unnamed', direct_url => 'host=' .
	    $self->pg_socket_dir . " port=$self->{pg_port} dbname=dashcgi " .
	    'user=' . $self->db_user } }, $self->{overrides});
	$self->write_config;
}

sub _base_config {
	my ($self) = @_;
	return {
		listen		=> "unix:$self->{socket}",
		socket_mode	=> '0666',
		workers		=> $self->{workers},
		log		=> { level => 'debug' },
		database	=> {
			host	=> $self->{pg_port} ? $self->pg_socket_dir
			    : "$self->{tmp}/no-postgresql",
			port	=> $self->{pg_port} // 5432,
			name	=> 'dashcgi',
			user	=> $self->db_user,
			$self->{roles} && $self->{pg_port} ? (migrate_url =>
			    'host=' . $self->pg_socket_dir . " port=$self->{pg_port}"
			    . " dbname=dashcgi user=$OWNER") : (),
		},
		# No evaluator process unless a test asks for one: the
		# children of the master are then the workers (worker_pids).
		hub		=> { evaluators => 0 },
		# No uptime checker unless a test asks for one: it would
		# count among the master's children (worker_pids).
		monitors	=> { checkers => 0 },
	};
}

# Deep merge; an undef value deletes the key.
sub _merge {
	my ($a, $b) = @_;
	my %r = %$a;
	for my $k (keys %$b) {
		my $v = $b->{$k};
		if (!defined $v) {
			delete $r{$k};
		} elsif (ref $v eq 'HASH' && ref $r{$k} eq 'HASH') {
			$r{$k} = _merge($r{$k}, $v);
		} else {
			$r{$k} = $v;
		}
	}
	return \%r;
}

# write_config(\%overrides): the YAML becomes defaults + the overrides
# given to new() + these.  Returns the YAML text.
sub write_config {
	my ($self, $over) = @_;
	my $cfg = _merge(_merge($self->_base_config, $self->{overrides}),
	    $over || {});
	$self->{config} = $cfg;
	my $yaml = "# written by DashTest\n" . _yaml($cfg, 0);
	_spew($self->config_path, $yaml, 0644);
	return $yaml;
}

# Write the config file verbatim (for broken-config tests).
sub write_config_raw {
	my ($self, $text) = @_;
	_spew($self->config_path, $text, 0644);
}

sub config { $_[0]{config} }

my @KEY_ORDER = qw(listen socket_mode workers max_requests shutdown_timeout
    max_body log database auth dashboards shares audit);

sub _yaml_scalar {
	my ($v) = @_;
	return $v ? 'true' : 'false' if JSON::PP::is_bool($v);
	return $v if $v =~ /^(?:0|-?[1-9][0-9]*)$/;
	return $v if $v =~ /^(?:true|false)$/;
	# Plain when unambiguous (10s, 1KiB, debug, /a/path); quoted when it
	# could read as a number it is not (0666, 1.5, 1e3) or needs escapes.
	return $v if $v =~ m{^[A-Za-z0-9_./-]+$} && $v !~ /^0[0-9]/
	    && $v !~ /^[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?$/;
	(my $q = $v) =~ s/(["\\])/\\$1/g;
	$q =~ s/\n/\\n/g;
	$q =~ s/\t/\\t/g;
	return qq{"$q"};
}

sub _yaml {
	my ($h, $depth) = @_;
	my $ind = '  ' x $depth;
	my %rank;
	@rank{@KEY_ORDER} = (0 .. $#KEY_ORDER);
	my @keys = sort { ($rank{$a} // 99) <=> ($rank{$b} // 99) or $a cmp $b }
	    keys %$h;
	my $s = '';
	for my $k (@keys) {
		my $v = $h->{$k};
		if (ref $v eq 'HASH') {
			$s .= %$v ? "$ind$k:\n" . _yaml($v, $depth + 1) : "$ind$k: {}\n";
		} elsif (ref $v eq 'ARRAY') {
			$s .= "$ind$k: [" . join(', ', map { _yaml_scalar($_) } @$v) .
			    "]\n";
		} else {
			$s .= "$ind$k: " . _yaml_scalar($v) . "\n";
		}
	}
	return $s;
}

# --------------------------------------------------------------------
# dashcgi

sub start_dashcgi {
	my ($self, %o) = @_;
	croak 'DashTest: dashcgi already running' if $self->{master_pid};
	die "DashTest: dashcgi binary not found: $self->{bin}\n"
	    unless -x $self->{bin};
	my @args = ('-c', $self->config_path, 'serve');
	my $env = $self->_dashcgi_env($o{env});
	my $log = $self->{logfile};
	my $pid = fork() // die "DashTest: fork: $!\n";
	if ($pid == 0) {
		eval {
			# Own process group: cleanup can kill master and
			# workers together even if the master is gone.
			setpgid(0, 0);
			$SIG{$_} = 'DEFAULT' for qw(INT TERM QUIT HUP PIPE ALRM);
			alarm(0);
			open(STDIN, '<', '/dev/null') or die "stdin: $!";
			open(STDOUT, '>>', $log) or die "$log: $!";
			open(STDERR, '>&', \*STDOUT) or die "stderr: $!";
			while (my ($k, $v) = each %$env) {
				if (defined $v) { $ENV{$k} = $v } else { delete $ENV{$k} }
			}
			exec { $self->{bin} } $self->{bin}, @args;
			die "exec $self->{bin}: $!";
		};
		print STDERR "DashTest: $@\n";
		_exit(127);
	}
	setpgid($pid, $pid);	# no race with the child's own call
	$self->{master_pid} = $pid;
	$self->{master_exit} = undef;
	return $pid if defined $o{wait} && !$o{wait};

	my $timeout = $o{timeout} // 30;
	my $deadline = time + $timeout;
	my $last = '';
	for (;;) {
		my $st = $self->_master_reap;
		if (defined $st) {
			die "DashTest: dashcgi exited during start-up " .
			    "(status $st); log:\n" . $self->log;
		}
		if (-S $self->{socket}) {
			my $r = eval { $self->live_request(timeout => 2) };
			return $pid if $r && $r->{status} == 200;
			$last = $r ? "status $r->{status}: $r->{content}" : $@;
		}
		die "DashTest: dashcgi not answering GET /live after " .
		    "${timeout}s ($last); log:\n" . $self->log if time > $deadline;
		sleep 0.05;
	}
}

# GET /live through nginx when it runs, else straight over FastCGI.
sub live_request {
	my ($self, %o) = @_;
	return $self->request(GET => '/live', %o) if $self->{nginx_pid};
	return $self->fcgi_request(GET => '/live', %o);
}

# Has the master exited?  Reaps it; -> exit code or undef while running.
sub _master_reap {
	my ($self) = @_;
	return $self->{master_exit} if defined $self->{master_exit};
	my $pid = $self->{master_pid} or return undef;
	my $r = waitpid($pid, WNOHANG);
	return undef if $r == 0;
	$self->{master_exit} = $r == $pid ? _status($?) : -1;
	$self->{master_wait_status} = $r == $pid ? $? : -1;
	return $self->{master_exit};
}

# Wait for the master to exit by itself: -> exit code, undef on timeout.
sub wait_dashcgi_exit {
	my ($self, $timeout) = @_;
	my $deadline = time + ($timeout // 15);
	for (;;) {
		my $st = $self->_master_reap;
		if (defined $st) {
			$self->_kill_group_stragglers;
			delete $self->{master_pid};
			return $st;
		}
		return undef if time > $deadline;
		sleep 0.05;
	}
}

sub dashcgi_running {
	my ($self) = @_;
	return $self->{master_pid} && !defined $self->_master_reap;
}

# Send a signal to the master.
sub signal_master {
	my ($self, $sig) = @_;
	my $pid = $self->{master_pid} or croak 'DashTest: dashcgi not running';
	return kill $sig, $pid;
}

# stop_dashcgi($sig = 'TERM', $timeout = 15) -> the master's exit code
# (128+N if killed by signal N).  After $timeout the whole process
# group is SIGKILLed and $t->{stop_timed_out} is set.  Workers still
# alive after the master exited are counted in $t->{stragglers} and
# killed.
sub stop_dashcgi {
	my ($self, $sig, $timeout) = @_;
	my $pid = $self->{master_pid} or return undef;
	$sig //= 'TERM';
	$timeout //= 15;
	$self->{stop_timed_out} = 0;
	kill $sig, $pid unless defined $self->_master_reap;
	my $deadline = time + $timeout;
	while (!defined $self->_master_reap) {
		if (time > $deadline) {
			$self->{stop_timed_out} = 1;
			kill 'KILL', -$pid;
			kill 'KILL', $pid;
			my $st = _waitpid_bounded($pid, 10);
			$self->{master_exit} = defined $st ? _status($st) : -1;
			$self->{master_wait_status} = $st;
			last;
		}
		sleep 0.02;
	}
	$self->_kill_group_stragglers;
	delete $self->{master_pid};
	return $self->{master_exit};
}

sub _kill_group_stragglers {
	my ($self) = @_;
	my $pgid = $self->{master_pid} or return;
	$self->{stragglers} = 0;
	# Zombies do not count: orphans are reaped by init, not by us.
	my $deadline = time + 5;
	while ($self->_group_pids($pgid) && time < $deadline) {
		sleep 0.05;
	}
	if (my @left = $self->_group_pids($pgid)) {
		$self->{stragglers} = scalar @left;
		kill 'KILL', -$pgid;
		sleep 0.1;
	}
}

# (pid, ppid, pgid, state) for every process, from /proc.
sub _procs {
	my @r;
	opendir(my $d, '/proc') or return @r;
	for my $p (grep { /^\d+$/ } readdir $d) {
		my $stat = _slurp("/proc/$p/stat");
		next unless $stat =~ /\)\s+(\S)\s+(\d+)\s+(\d+)/;
		push @r, [$p, $2, $3, $1];
	}
	closedir $d;
	return @r;
}

sub _group_pids {
	my ($self, $pgid) = @_;
	return map { $_->[0] } grep { $_->[2] == $pgid && $_->[3] ne 'Z' } _procs();
}

# Live (non-zombie) children of the master, sorted.
sub worker_pids {
	my ($self) = @_;
	my $m = $self->{master_pid} or return ();
	return sort { $a <=> $b }
	    map { $_->[0] } grep { $_->[1] == $m && $_->[3] ne 'Z' } _procs();
}

# wait_workers($n, $timeout = 15, exclude => [pids]) -> the pids once
# exactly $n workers run and none of them is excluded; () on timeout.
sub wait_workers {
	my ($self, $n, $timeout, %o) = @_;
	my %ex = map { $_ => 1 } @{ $o{exclude} || [] };
	my $deadline = time + ($timeout // 15);
	for (;;) {
		my @w = $self->worker_pids;
		return @w if @w == $n && !grep { $ex{$_} } @w;
		return () if time > $deadline;
		sleep 0.05;
	}
}

# --------------------------------------------------------------------
# logs

sub log { _slurp($_[0]{logfile}) }

# The current end of the log, to wait only for lines written after it.
sub log_mark { -s $_[0]{logfile} // 0 }

# wait_log(qr/.../, $timeout = 10, $from = 0) -> true once the log
# (from byte offset $from) matches.
sub wait_log {
	my ($self, $re, $timeout, $from) = @_;
	my $deadline = time + ($timeout // 10);
	for (;;) {
		my $l = $self->log;
		return 1 if substr($l, $from // 0) =~ $re;
		return 0 if time > $deadline;
		sleep 0.1;
	}
}

# Log lines (from offset $from) matching $re, parsed: list of hashrefs
# with the raw line under "_".
sub log_lines {
	my ($self, $re, $from) = @_;
	my $l = substr($self->log, $from // 0);
	return map { my $h = parse_logline($_); $h->{_} = $_; $h }
	    grep { $_ =~ $re } split /\n/, $l;
}

# A logfmt or JSON log line -> hashref.
sub parse_logline {
	my ($line) = @_;
	$line = $_[1] if ref $line;	# also callable as a method
	if ($line =~ /^\s*\{/) {
		my $h = eval { JSON::PP->new->decode($line) };
		return $h if ref $h eq 'HASH';
	}
	my %h;
	while ($line =~ /\G\s*([^\s=]+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))/gc) {
		my ($k, $q, $p) = ($1, $2, $3);
		if (defined $q) {
			$q =~ s/\\(.)/$1 eq 'n' ? "\n" : $1 eq 't' ? "\t" : $1/ge;
			$h{$k} = $q;
		} else {
			$h{$k} = $p;
		}
	}
	return \%h;
}

# --------------------------------------------------------------------
# nginx

sub _nginx_bin {
	my $b = $ENV{DASHCGI_NGINX} // _which('nginx', '/usr/sbin', '/usr/local/sbin');
	die "DashTest: nginx not found; install nginx (Debian: apt-get " .
	    "install nginx-light or nginx)\n" unless $b && -x $b;
	return $b;
}

sub _fastcgi_params_file {
	for my $f ('/etc/nginx/fastcgi_params', '/usr/local/nginx/conf/fastcgi_params',
	    '/usr/local/etc/nginx/fastcgi_params') {
		return $f if -r $f;
	}
	return undef;
}

sub _nginx_start {
	my ($self) = @_;
	my $nginx = _nginx_bin();
	my $tmp = $self->{tmp};
	my $src = $self->{srcdir};

	my $snippet = _slurp("$src/nginx/dashcgi.conf");
	die "DashTest: $src/nginx/dashcgi.conf missing or empty\n"
	    unless length $snippet;
	# Verbatim, but for the UI's root when the test serves a build.
	$snippet =~ s{^root /usr/share/dashcgi/www;$}{root $self->{www};}m
	    or die "DashTest: no UI root line in nginx/dashcgi.conf\n"
	    if defined $self->{www};
	_spew("$tmp/dashcgi.conf", $snippet);
	# The snippet may `include fastcgi_params`: relative includes are
	# resolved from the config's directory, so provide it there.
	if (my $fp = _fastcgi_params_file()) {
		_spew("$tmp/fastcgi_params", _slurp($fp));
	}

	my $http = _slurp("$src/nginx/dashcgi-http.conf");
	die "DashTest: $src/nginx/dashcgi-http.conf missing or empty\n"
	    unless length $http;
	my $n = ($http =~ s{(\bserver\s+)unix:[^\s;]+}{$1unix:$self->{socket}}g);
	die "DashTest: no `server unix:…` line to point at the test socket " .
	    "in nginx/dashcgi-http.conf\n" unless $n;
	$http = $self->{nginx_http_filter}->($http)
	    if $self->{nginx_http_filter};

	if ($self->{auth}) {
		_spew("$tmp/htpasswd", join('', map { "$_:{PLAIN}pw-$_\n" } @USERS),
		    0644);
	}
	make_path(map { "$tmp/nginx-tmp/$_" } qw(body fastcgi proxy scgi uwsgi));

	if (defined $self->{fixed_port}) {
		_check_port_free($self->{fixed_port});
		$self->{nginx_port} = $self->{fixed_port};
	} else {
		$self->{nginx_port} = free_port();
	}
	my $auth = $self->{auth}
	    ? qq{        auth_basic "dashcgi";\n        auth_basic_user_file $tmp/htpasswd;\n}
	    : '';
	my $user = _is_root() ? "user root;\n" : '';
	my $listen6 = $self->{listen6}
	    ? "        listen [::1]:$self->{nginx_port};\n" : '';
	_spew("$tmp/nginx.conf", <<"EOF");
# written by DashTest
daemon off;
master_process on;
worker_processes 2;
${user}pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log info;
events { worker_connections 512; }
http {
    access_log $tmp/nginx-access.log;
    default_type application/octet-stream;
    client_body_temp_path $tmp/nginx-tmp/body;
    fastcgi_temp_path $tmp/nginx-tmp/fastcgi;
    proxy_temp_path $tmp/nginx-tmp/proxy;
    scgi_temp_path $tmp/nginx-tmp/scgi;
    uwsgi_temp_path $tmp/nginx-tmp/uwsgi;

    # --- nginx/dashcgi-http.conf, socket pointed at the test ---
$http
    # --- end ---

    server {
        listen 127.0.0.1:$self->{nginx_port};
$listen6        server_name localhost;
$auth
        include $tmp/dashcgi.conf;
    }
}
EOF
	my @base = ($nginx, '-p', "$tmp/", '-c', "$tmp/nginx.conf", '-e',
	    "$tmp/nginx-error.log");
	my ($rc, $out, $err) = $self->_run([@base, '-t', '-q'], timeout => 30);
	die "DashTest: nginx -t rejects the configuration (exit $rc):\n$out$err"
	    if $rc != 0;

	my $pid = fork() // die "DashTest: fork: $!\n";
	if ($pid == 0) {
		eval {
			setpgid(0, 0);
			$SIG{$_} = 'DEFAULT' for qw(INT TERM QUIT HUP PIPE ALRM);
			alarm(0);
			open(STDIN, '<', '/dev/null') or die "stdin: $!";
			open(STDOUT, '>>', "$tmp/nginx-stdout.log") or die "out: $!";
			open(STDERR, '>&', \*STDOUT) or die "err: $!";
			exec { $nginx } @base;
			die "exec $nginx: $!";
		};
		print STDERR "DashTest: $@\n";
		_exit(127);
	}
	setpgid($pid, $pid);
	$self->{nginx_pid} = $pid;
	my $deadline = time + 15;
	for (;;) {
		my $r = waitpid($pid, WNOHANG);
		if ($r == $pid) {
			delete $self->{nginx_pid};
			die "DashTest: nginx exited at start-up (status " .
			    _status($?) . "):\n" . _slurp("$tmp/nginx-error.log") .
			    _slurp("$tmp/nginx-stdout.log");
		}
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
		    PeerPort => $self->{nginx_port}, Proto => 'tcp', Timeout => 1);
		if ($s) {
			close $s;
			return 1;
		}
		die "DashTest: nginx not listening after 15s:\n" .
		    _slurp("$tmp/nginx-error.log") if time > $deadline;
		sleep 0.05;
	}
}

sub _nginx_stop {
	my ($self) = @_;
	my $pid = delete $self->{nginx_pid} or return;
	kill 'TERM', $pid;
	my $st = _waitpid_bounded($pid, 10);
	kill 'KILL', -$pid;		# workers, if the master was stuck
	kill 'KILL', $pid;
	waitpid($pid, 0) unless defined $st;
	my $deadline = time + 5;
	while (kill(0, -$pid) && time < $deadline) {
		sleep 0.05;
	}
}

# --------------------------------------------------------------------
# HTTP through nginx

# request($method, $path, user => 'alice', password => ..., headers => {},
#   body => $str, json => $ref, content_type => 'application/json',
#   timeout => 10, local_address => '127.0.0.2', ipv6 => 1 (to [::1],
#   needs new(listen6 => 1))) -> HTTP::Tiny response.
# A body defaults to Content-Type application/json; content_type => ''
# sends none.
sub request {
	my ($self, $method, $path, %o) = @_;
	croak 'DashTest: nginx not started (nginx => 0)' unless $self->{nginx_port};
	my %h = %{ $o{headers} || {} };
	if (defined $o{user}) {
		my $pw = $o{password} // "pw-$o{user}";
		$h{Authorization} = 'Basic ' . encode_base64("$o{user}:$pw", '');
	}
	my $body = $o{body};
	$body = JSON::PP->new->utf8->canonical->encode($o{json})
	    if exists $o{json};
	if (defined $body && !grep { lc $_ eq 'content-type' } keys %h) {
		my $ct = exists $o{content_type} ? $o{content_type}
		    : 'application/json';
		$h{'Content-Type'} = $ct if defined $ct && length $ct;
	}
	my $http = HTTP::Tiny->new(
		timeout		=> $o{timeout} // 10,
		keep_alive	=> 0,
		max_redirect	=> 0,
		agent		=> 'DashTest/1',
		defined $o{local_address} ? (local_address => $o{local_address}) : (),
	);
	my $args = { headers => \%h };
	$args->{content} = $body if defined $body;
	my $url = $o{ipv6} ? "http://[::1]:$self->{nginx_port}$path"
	    : $self->url($path);
	return $http->request($method, $url, $args);
}

my $JSON = JSON::PP->new->utf8->allow_nonref;

# Decode a response's JSON body; undef (with a warning) when it is not JSON.
sub json {
	my ($self, $res) = @_;
	my $c = ref $res ? $res->{content} : $res;
	my $v = eval { $JSON->decode($c // '') };
	if ($@) {
		my $e = $@;
		$e =~ s/\s+at \S+ line \d+.*//s;
		warn "DashTest: not JSON ($e): " . substr($c // '', 0, 200) . "\n";
		return undef;
	}
	return $v;
}

sub encode_json { JSON::PP->new->utf8->canonical->encode($_[1]) }

# A header of a response (case-insensitive; HTTP::Tiny lower-cases).
sub header {
	my ($self, $res, $name) = @_;
	my $v = $res->{headers}{ lc $name };
	return ref $v eq 'ARRAY' ? join(', ', @$v) : $v;
}

# --------------------------------------------------------------------
# FastCGI straight to the socket (no nginx): the same response shape.
# params => {...} are sent as-is on top of the usual CGI ones.

sub fcgi_request {
	my ($self, $method, $path, %o) = @_;
	my ($uri, $qs) = split(/\?/, $path, 2);
	my $body = $o{body} // '';
	my %p = (
		REQUEST_METHOD	=> $method,
		REQUEST_URI	=> $path,
		SCRIPT_NAME	=> $uri,
		DOCUMENT_URI	=> $uri,
		QUERY_STRING	=> $qs // '',
		SERVER_PROTOCOL	=> 'HTTP/1.1',
		GATEWAY_INTERFACE => 'CGI/1.1',
		REMOTE_ADDR	=> '127.0.0.1',
		REMOTE_PORT	=> '50000',
		SERVER_ADDR	=> '127.0.0.1',
		SERVER_PORT	=> '80',
		SERVER_NAME	=> 'localhost',
		CONTENT_LENGTH	=> length($body) ? length($body) : '',
		CONTENT_TYPE	=> length($body) ? ($o{content_type} // 'application/json') : '',
		defined $o{user} ? (REMOTE_USER => $o{user}) : (),
		%{ $o{params} || {} },
	);
	my $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM,
	    Peer => $o{socket} // $self->{socket})
	    or return { status => 599, headers => {}, content => "connect: $!",
		success => 0 };
	my $rec = sub {
		my ($type, $data) = @_;
		my $pad = (8 - length($data) % 8) % 8;
		return pack('CCnnCC', 1, $type, 1, length($data), $pad, 0) .
		    $data . ("\0" x $pad);
	};
	my $nv = sub {
		my ($n, $v) = @_;
		my $l = sub { $_[0] < 128 ? pack('C', $_[0]) : pack('N', $_[0] | 0x80000000) };
		return $l->(length $n) . $l->(length $v) . $n . $v;
	};
	my $params = join('', map { $nv->($_, "$p{$_}") } sort keys %p);
	my $out = $rec->(1, pack('nCx5', 1, 0));
	while (length $params) {
		$out .= $rec->(4, substr($params, 0, 65535, ''));
	}
	$out .= $rec->(4, '');
	for (my $i = 0; $i < length $body; $i += 65535) {
		$out .= $rec->(5, substr($body, $i, 65535));
	}
	$out .= $rec->(5, '');

	my $timeout = $o{timeout} // 10;
	my $deadline = time + $timeout;
	my $sel = IO::Select->new($sock);
	my $fail = sub { { status => 599, headers => {}, content => $_[0], success => 0 } };
	while (length $out) {
		return $fail->('timeout writing') unless $sel->can_write($deadline - time);
		my $w = syswrite($sock, $out);
		return $fail->("write: $!") unless defined $w;
		substr($out, 0, $w, '');
	}
	my ($buf, $stdout, $stderr, $done) = ('', '', '', 0);
	while (!$done) {
		my $left = $deadline - time;
		return $fail->("timeout after ${timeout}s") if $left <= 0;
		next unless $sel->can_read($left);
		my $r = sysread($sock, $buf, 65536, length $buf);
		return $fail->("read: $!") unless defined $r;
		while (length($buf) >= 8) {
			my (undef, $type, undef, $len, $pad) = unpack('CCnnC', $buf);
			last if length($buf) < 8 + $len + $pad;
			my $data = substr($buf, 8, $len);
			substr($buf, 0, 8 + $len + $pad, '');
			$stdout .= $data if $type == 6;
			$stderr .= $data if $type == 7;
			$done = 1 if $type == 3;
		}
		last if $r == 0;
	}
	close $sock;
	return $fail->('connection closed before END_REQUEST') unless $done;
	my ($head, $content) = split(/\r?\n\r?\n/, $stdout, 2);
	my %h;
	for my $line (split /\r?\n/, $head // '') {
		my ($k, $v) = $line =~ /^([^:]+):\s*(.*)$/ or next;
		$k = lc $k;
		$h{$k} = exists $h{$k} ? (ref $h{$k} ? [@{ $h{$k} }, $v] : [$h{$k}, $v]) : $v;
	}
	my $status = 200;
	$status = $1 if defined $h{status} && $h{status} =~ /^(\d{3})/;
	return { status => $status, headers => \%h, content => $content // '',
	    success => $status =~ /^2/ ? 1 : 0, fcgi_stderr => $stderr };
}

# --------------------------------------------------------------------
# metrics

sub metrics_text {
	my ($self) = @_;
	my $r = $self->request(GET => '/metrics');
	die "DashTest: GET /metrics answered $r->{status}: $r->{content}\n"
	    unless $r->{status} == 200;
	return $r->{content};
}

# metric_value($text, $name, {label => value, ...}) -> the sum of every
# sample of $name whose labels include the given ones; undef if none.
sub metric_value {
	my ($self, $text, $name, $want) = @_;
	my ($sum, $seen) = (0, 0);
	for my $line (split /\n/, $text) {
		next if $line =~ /^#/;
		my ($n, $labels, $v) = $line =~
		    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/ or next;
		next unless $n eq $name;
		my %l;
		while (($labels // '') =~ /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g) {
			$l{$1} = $2;
		}
		next if grep { !defined $l{$_} || $l{$_} ne $want->{$_} } keys %{ $want || {} };
		$sum += $v;
		$seen++;
	}
	return $seen ? $sum : undef;
}

# promtool_check($text) -> ($ok, $output) from `promtool check metrics`.
sub promtool_check {
	my ($self, $text) = @_;
	my $p = _which('promtool', '/usr/bin', '/usr/local/bin')
	    or die "DashTest: promtool not found; install it " .
	    "(Debian: apt-get install prometheus)\n";
	my ($rc, $out, $err) = $self->_run([$p, 'check', 'metrics'],
	    stdin => $text, timeout => 30);
	return ($rc == 0, "$out$err");
}

# --------------------------------------------------------------------
# load: forked clients hammering one request for a bounded time.
#   my $h = $t->load_start(clients => 4, duration => 3, method => 'GET',
#       path => '/live', user => undef, expect => 200, max => 100000);
#   ... do something meanwhile ...
#   my $r = $t->load_wait($h);  # {total, ok, fail, statuses => {code => n},
#                               #  errors => [up to 10 sample failures]}

sub load_start {
	my ($self, %o) = @_;
	my $clients = $o{clients} // 4;
	my $duration = $o{duration} // 3;
	my $max = $o{max} // 100_000;
	my $expect = $o{expect} // 200;
	my $id = ++$SEQ;
	my @pids;
	for my $c (1 .. $clients) {
		my $file = "$self->{tmp}/load-$id-$c.txt";
		push @pids, $self->bg(sub {
			my $end = time + $duration;
			my (%st, @err, $n);
			while (time < $end && $n++ < $max) {
				my $r = $self->request($o{method} // 'GET',
				    $o{path} // '/live', user => $o{user},
				    timeout => $o{timeout} // 10,
				    defined $o{body} ? (body => $o{body}) : ());
				$st{ $r->{status} }++;
				push @err, "$r->{status} " . substr($r->{content} // '', 0, 200)
				    if $r->{status} != $expect && @err < 10;
			}
			_spew("$file.part", join('', map({ "status $_ $st{$_}\n" } keys %st),
			    map({ (my $e = $_) =~ s/\n/ /g; "error $e\n" } @err)));
			rename("$file.part", $file);
			return 0;
		});
	}
	return { id => $id, pids => \@pids, clients => $clients,
	    duration => $duration, expect => $expect };
}

sub load_wait {
	my ($self, $h, $timeout) = @_;
	my %r = (total => 0, ok => 0, fail => 0, statuses => {}, errors => []);
	my $c = 0;
	for my $pid (@{ $h->{pids} }) {
		$c++;
		my $rc = $self->wait_pid($pid, $timeout // ($h->{duration} + 30));
		if (!defined $rc) {
			kill 'KILL', $pid;
			$self->wait_pid($pid, 5);
			push @{ $r{errors} }, "client $c did not finish";
		}
	}
	for my $c (1 .. $h->{clients}) {
		my $f = "$self->{tmp}/load-$h->{id}-$c.txt";
		push(@{ $r{errors} }, "client $c wrote no results"), next unless -e $f;
		for my $line (split /\n/, _slurp($f)) {
			if ($line =~ /^status (\d+) (\d+)$/) {
				$r{statuses}{$1} += $2;
				$r{total} += $2;
				$r{$1 == $h->{expect} ? 'ok' : 'fail'} += $2;
			} elsif ($line =~ /^error (.*)$/) {
				push @{ $r{errors} }, $1;
			}
		}
	}
	return \%r;
}

1;
