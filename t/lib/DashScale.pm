package DashScale;

# DashScale -- what t/38-pgbouncer.t, t/39-replicas.t and
# t/bench/dbscale.pl put beside DashTest's PostgreSQL: a real PgBouncer
# in transaction mode and a streaming replica made with pg_basebackup,
# each in the test's temp dir on its own unix socket.
#
# Owns: the pgbouncer process (spawned through DashTest, so it dies with
# the test) and the replica's postmaster (stopped at END whatever
# happened).  Never: listen on TCP, touch anything outside the temp dir.
#
#   my $b = DashScale::pgbouncer($t, pool_size => 1);  # {dir, port, pid}
#   my $r = DashScale::replica($t);     # {dir, port}; replica_stop($t, $r)
#   DashScale::psql_at($t, $dir, $port, $sql) -> output (dies on error)

use strict;
use warnings;
use Time::HiRes qw(sleep time);

my $PGB = '/usr/sbin/pgbouncer';
my @REPLICAS;			# [$t, $data] still running, for END

sub _spew {
	my ($p, $c) = @_;
	open(my $fh, '>', $p) or die "DashScale: $p: $!\n";
	print $fh $c;
	close $fh or die "DashScale: $p: $!\n";
	chmod 0644, $p;
}

# A directory the postgres user owns when we are root.
sub _pgdir {
	my ($dir) = @_;
	mkdir $dir, 0700 or die "DashScale: mkdir $dir: $!\n";
	if ($> == 0) {
		my (undef, undef, $uid, $gid) = getpwnam('postgres')
		    or die "DashScale: no postgres user\n";
		chown $uid, $gid, $dir or die "DashScale: chown $dir: $!\n";
	}
	chmod 0755, $dir;
}

sub have_pgbouncer { -x $PGB }

sub _pgbin { $ENV{DASHCGI_PGBIN} // '/usr/lib/postgresql/15/bin' }

sub _pg {
	my ($t, @cmd) = @_;
	my ($rc, $out, $err) = $t->run_cmd([@cmd], as_pg => 1, timeout => 120);
	die "DashScale: @cmd: exit $rc\n$out$err" if $rc != 0;
	return $out;
}

sub psql_at {
	my ($t, $dir, $port, $sql, $db) = @_;
	my $out = _pg($t, _pgbin() . '/psql', '-XAtq', '-h', $dir, '-p', $port,
	    '-U', 'postgres', '-d', $db // 'dashcgi', '-c', $sql);
	chomp $out;
	return $out;
}

# PgBouncer (transaction mode, auth_type trust) in front of DashTest's
# PostgreSQL; it refuses to run as root, so it runs as postgres.
sub pgbouncer {
	my ($t, %o) = @_;
	die "DashScale: no $PGB (t/deps installs pgbouncer)\n" unless have_pgbouncer();
	my $dir = $t->tmpdir . '/pgb';
	my $port = DashTest::free_port();
	_pgdir($dir);
	_spew("$dir/userlist.txt", qq("postgres" ""\n));
	my ($sock, $pgport) = ($t->pg_socket_dir, $t->pg_port);
	my $pool = $o{pool_size} // 1;
	# More [pgbouncer] settings: ini => { pkt_buf => 16384 }.
	my $more = join('', map { "$_ = $o{ini}{$_}\n" } sort keys %{ $o{ini} || {} });
	_spew("$dir/pgbouncer.ini", <<"EOF");
[databases]
dashcgi = host=$sock port=$pgport dbname=dashcgi user=postgres

[pgbouncer]
listen_addr =
listen_port = $port
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = $pool
max_client_conn = 200
admin_users = postgres
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
$more
EOF
	my @run = $> == 0 ? ('runuser', '-u', 'postgres', '--') : ();
	my $pid = $t->spawn([@run, $PGB, "$dir/pgbouncer.ini"],
	    log => $t->tmpdir . '/pgbouncer.out');
	my $deadline = time + 15;
	sleep 0.1 until -S "$dir/.s.PGSQL.$port" || time > $deadline;
	die "DashScale: pgbouncer did not start\n" unless -S "$dir/.s.PGSQL.$port";
	return { dir => $dir, port => $port, pid => $pid };
}

# A hot standby of DashTest's PostgreSQL, streaming from it.
sub replica {
	my ($t) = @_;
	my $dir = $t->tmpdir . '/replica';
	my $port = DashTest::free_port();
	my $bin = _pgbin();
	_pgdir($dir);
	_pg($t, "$bin/pg_basebackup", '-h', $t->pg_socket_dir, '-p',
	    $t->pg_port, '-U', 'postgres', '-D', "$dir/data", '-R', '-X',
	    'stream', '--checkpoint=fast', '--no-sync');
	open(my $fh, '>>', "$dir/data/postgresql.conf") or die $!;
	print $fh "\n# --- DashScale replica ---\nport = $port\n"
	    . "unix_socket_directories = '$dir'\nhot_standby = on\n";
	close $fh or die $!;
	my $r = { dir => $dir, port => $port, t => $t };
	replica_start($t, $r);
	return $r;
}

sub replica_start {
	my ($t, $r) = @_;
	_pg($t, _pgbin() . '/pg_ctl', '-D', "$r->{dir}/data", '-l',
	    "$r->{dir}/postgresql.log", '-w', '-t', '60', '-s', 'start');
	push @REPLICAS, $r;
}

sub replica_stop {
	my ($t, $r, $mode) = @_;
	_pg($t, _pgbin() . '/pg_ctl', '-D', "$r->{dir}/data", '-m',
	    $mode // 'fast', '-w', '-t', '60', '-s', 'stop');
	@REPLICAS = grep { $_ != $r } @REPLICAS;
}

# The replica has replayed all the primary had written when asked.
sub caught_up {
	my ($t, $r, $timeout) = @_;
	my $lsn = $t->psql('SELECT pg_current_wal_lsn()');
	my $deadline = time + ($timeout // 15);
	while (time < $deadline) {
		return 1 if psql_at($t, $r->{dir}, $r->{port},
		    "SELECT pg_last_wal_replay_lsn() >= '$lsn'") eq 't';
		sleep 0.1;
	}
	return 0;
}

END {
	# Never leave a second postmaster behind, whatever happened.
	for my $r (@REPLICAS) {
		eval {
			$r->{t}->run_cmd([_pgbin() . '/pg_ctl', '-D',
			    "$r->{dir}/data", '-m', 'immediate', '-w', '-t',
			    '30', '-s', 'stop'], as_pg => 1, timeout => 45);
		};
	}
}

1;
