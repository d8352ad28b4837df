#!/usr/bin/perl
# The systemd units make generates from packaging/systemd/*.in: every
# placeholder filled; `systemd-analyze verify` clean; both services
# rated 1.5 or lower by `systemd-analyze security --offline=true`; and
# what they say agrees with the rest of the tree: the socket is the
# default `listen` and nginx's upstream, the service runs the server as
# dashcgi on the inherited socket, reloads with SIGHUP, does not restart
# after a fatal configuration error (exit 2), stops gracefully within
# its timeout; the timer runs `dashcgi maintenance` hourly.
#
# Needs systemd-analyze (Debian: systemd).  No root, no database.
use strict;
use warnings;
use Test::More;
use DashTest;

my $t = DashTest->new(pg => 0, nginx => 0, migrate => 0, start => 0);
my $src = $t->srcdir;
my $build = $ENV{DASHCGI_BUILDDIR} // '.';
my $tmp = $t->tmpdir;
my $bin = $t->bin;
my ($sa) = grep { -x } map { "$_/systemd-analyze" } split(/:/, $ENV{PATH}),
    '/usr/bin', '/bin';
die "systemd-analyze not found (Debian: apt-get install systemd)\n" unless $sa;

my @UNITS = qw(dashcgi.socket dashcgi.service dashcgi-maintenance.service
    dashcgi-maintenance.timer);

sub slurp {
	my ($p) = @_;
	open(my $fh, '<', $p) or return undef;
	local $/;
	return scalar <$fh>;
}

# -> { "Section.Key" => [values] }
sub parse_unit {
	my ($text) = @_;
	my (%u, $sect);
	for (split /\n/, $text) {
		next if /^\s*([#;]|$)/;
		if (/^\[(\w+)\]$/) { $sect = $1; next }
		push @{ $u{"$sect.$1"} }, $2 if /^(\w+)=(.*)$/;
	}
	return \%u;
}

my (%text, %unit);
for my $u (@UNITS) {
	my $p = "$build/packaging/systemd/$u";
	$text{$u} = slurp($p);
	ok(defined $text{$u}, "make generated $u") or next;
	unlike($text{$u}, qr/@\w+@/, "$u: every placeholder is filled");
	$unit{$u} = parse_unit($text{$u});
}
BAIL_OUT("units missing: run make in $build first")
    if grep { !defined $text{$_} } @UNITS;

sub one { my ($u, $k) = @_; my $v = $unit{$u}{$k}; $v ? $v->[-1] : undef }

# --- systemd-analyze -----------------------------------------------------

{
	# verify checks that the programs and man pages named exist: point
	# Exec lines at the built binary and MANPATH at doc/.
	my $dir = "$tmp/units";
	mkdir $dir;
	mkdir "$tmp/man";
	for my $sec (5, 8) {
		mkdir "$tmp/man/man$sec";
	}
	symlink("$src/doc/dashcgi.8", "$tmp/man/man8/dashcgi.8");
	symlink("$src/doc/dashcgi.yaml.5", "$tmp/man/man5/dashcgi.yaml.5");
	for my $u (@UNITS) {
		(my $x = $text{$u}) =~ s{^(Exec\w+=)\S*/dashcgi\b}{$1$bin}mg;
		open(my $fh, '>', "$dir/$u") or die "$dir/$u: $!";
		print $fh $x;
		close $fh;
	}
	my ($rc, $out, $err) = $t->run_cmd([$sa, 'verify', map { "$dir/$_" }
	    @UNITS], env => { MANPATH => "$tmp/man" });
	is($rc, 0, 'systemd-analyze verify');
	is("$out$err", '', 'systemd-analyze verify: no findings')
	    or diag "$out$err";
	for my $s (qw(dashcgi.service dashcgi-maintenance.service)) {
		($rc, $out, $err) = $t->run_cmd([$sa, 'security', '--offline=true',
		    "$build/packaging/systemd/$s"]);
		my ($score) = $out =~ /Overall exposure level for \S+: ([\d.]+)/;
		ok(defined $score && $score <= 1.5,
		    "systemd-analyze security: $s exposure " . ($score // '?')
		    . ' <= 1.5') or diag "$out$err";
	}
}

# --- the socket ----------------------------------------------------------

{
	my ($rc, $out) = $t->run_dashcgi({ no_config => 1 }, '-c', '/dev/null',
	    'check-config');
	my ($listen) = $out =~ /^listen: unix:(\S+)/m;
	my $sock = one('dashcgi.socket', 'Socket.ListenStream');
	is($sock, $listen, "dashcgi.socket listens where listen defaults to ($listen)");
	my ($up) = (slurp("$src/nginx/dashcgi-http.conf") // '')
	    =~ /^\s*server\s+unix:([^\s;]+)/m;
	is($sock, $up, 'and where nginx/dashcgi-http.conf sends requests');
	is(one('dashcgi.socket', 'Socket.SocketMode'), '0660',
	    'SocketMode=0660: root and the web server\'s group only');
	like(one('dashcgi.socket', 'Socket.SocketGroup') // '', qr/^\S+$/,
	    'SocketGroup is set (the web server\'s group)');
	is(one('dashcgi.socket', 'Install.WantedBy'), 'sockets.target',
	    'WantedBy=sockets.target');
}

# --- the service -----------------------------------------------------------

{
	my $s = 'dashcgi.service';
	like(one($s, 'Unit.Requires') // '', qr/\bdashcgi\.socket\b/,
	    'Requires=dashcgi.socket');
	like(one($s, 'Unit.After') // '', qr/\bdashcgi\.socket\b/,
	    'After=dashcgi.socket');
	is(one($s, 'Service.User'), 'dashcgi', 'User=dashcgi');
	is(one($s, 'Service.Group'), 'dashcgi', 'Group=dashcgi');
	like(one($s, 'Service.ExecStart') // '',
	    qr{^/\S+/dashcgi -c /\S+/dashcgi/dashcgi\.yaml serve$},
	    'ExecStart: the server with the configured config file');
	is(one($s, 'Service.ExecReload'), '/bin/kill -HUP $MAINPID',
	    'ExecReload sends SIGHUP');
	is(one($s, 'Service.Restart'), 'on-failure', 'Restart=on-failure');
	is(one($s, 'Service.RestartPreventExitStatus'), '2',
	    'no restart after a fatal configuration error (exit 2)');
	is(one($s, 'Service.KillMode'), 'mixed',
	    'KillMode=mixed: the master stops its own workers');
	my ($stop) = (one($s, 'Service.TimeoutStopSec') // '') =~ /^(\d+)s?$/;
	my ($rc, $out) = $t->run_dashcgi({ no_config => 1 }, '-c', '/dev/null',
	    'check-config');
	my ($grace) = $out =~ /^shutdown_timeout: (\d+)s\b/m;
	ok(defined $stop && defined $grace && $stop > $grace,
	    "TimeoutStopSec ($stop s) exceeds shutdown_timeout's default ($grace s)");
	is(one($s, 'Service.NoNewPrivileges'), 'yes', 'NoNewPrivileges=yes');
	is(one($s, 'Service.ProtectSystem'), 'strict', 'ProtectSystem=strict');
	is(one($s, 'Service.CapabilityBoundingSet'), '', 'no capabilities');
	is(one($s, 'Install.WantedBy'), 'multi-user.target',
	    'WantedBy=multi-user.target');
	is(one($s, 'Install.Also'), 'dashcgi.socket', 'Also=dashcgi.socket');
	for my $u (@UNITS) {
		for my $doc (split ' ', join(' ', @{ $unit{$u}{'Unit.Documentation'}
		    || [] })) {
			my ($page, $sec) = $doc =~ /^man:([\w.]+)\((\d)\)$/ or next;
			ok(-f "$src/doc/$page.$sec", "$u: Documentation $doc exists");
		}
	}
}

# --- maintenance ---------------------------------------------------------

{
	my $s = 'dashcgi-maintenance.service';
	is(one($s, 'Service.Type'), 'oneshot', "$s: Type=oneshot");
	is(one($s, 'Service.User'), 'dashcgi', "$s: User=dashcgi");
	like(one($s, 'Service.ExecStart') // '',
	    qr{^/\S+/dashcgi -c /\S+/dashcgi/dashcgi\.yaml maintenance$},
	    "$s: ExecStart runs dashcgi maintenance");
	ok(!grep({ /^Install\./ } keys %{ $unit{$s} }),
	    "$s: not enabled on its own (the timer starts it)");
	my $tm = 'dashcgi-maintenance.timer';
	is(one($tm, 'Timer.OnCalendar'), 'hourly', "$tm: OnCalendar=hourly");
	is(one($tm, 'Timer.Persistent'), 'true',
	    "$tm: Persistent=true (catches up after downtime)");
	ok(!defined one($tm, 'Timer.Unit'),
	    "$tm: starts the service of the same name");
	is(one($tm, 'Install.WantedBy'), 'timers.target',
	    "$tm: WantedBy=timers.target");
}

done_testing;
