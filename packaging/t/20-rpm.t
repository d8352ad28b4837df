#!/usr/bin/perl
# packaging/t/20-rpm.t -- the .rpm is what dashcgi.spec intends: rpmlint
# finds no error; the file list is SPEC §6's; the configuration is
# %config(noreplace), root:dashcgi 0640, and nothing else is %config;
# the scriptlets create the user before the files land, enable through
# presets, start nothing on install, stop on erase, restart on upgrade;
# the requirements name the libraries, nginx's group and the scriptlets'
# tools; %check ran the unit tests; the binary is hardened; its units
# pass systemd-analyze verify and rate at most 1.5; the dashcgi-web
# subpackage is noarch, holds the built UI and needs no node at run time.
#
# Run by `make package-check` (DASHCGI_PACKAGES = the packages' dir).
# Needs rpm, rpmlint, cpio, systemd-analyze and hardening-check; not root.
use strict;
use warnings;
use Test::More;
use DashTest;

my $dir = $ENV{DASHCGI_PACKAGES}
    // die "set DASHCGI_PACKAGES to the directory of the built packages "
    . "(make package-check does)\n";
my ($rpm) = grep { !/\.src\.rpm$/ && !/-debug/ } glob("$dir/dashcgi-[0-9]*.rpm");
my ($webrpm) = glob("$dir/dashcgi-web-[0-9]*.noarch.rpm");
my ($srpm) = glob("$dir/dashcgi-*.src.rpm");
die "no binary dashcgi-*.rpm in $dir: run make rpm first\n" unless $rpm;
for my $tool (qw(rpm rpmlint rpm2cpio cpio systemd-analyze hardening-check)) {
	die "$tool not found (apt-get install rpm rpmlint cpio systemd "
	    . "devscripts)\n" unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}

my $t = DashTest->new(pg => 0, nginx => 0, migrate => 0, start => 0);
my $tmp = $t->tmpdir;

sub run {
	my ($cmd, %o) = @_;
	return $t->run_cmd($cmd, timeout => $o{timeout} // 120, env => $o{env},
	    cwd => $o{cwd});
}

sub q_rpm {
	my ($rc, $out, $err) = run(['rpm', '-qp', @_, $rpm]);
	die "rpm -qp @_ failed: $err" if $rc != 0;
	return $out;
}

# --- rpmlint ---------------------------------------------------------------

{
	my @lint = ('rpmlint');
	push @lint, '-r', "$dir/dashcgi.rpmlintrc" if -f "$dir/dashcgi.rpmlintrc";
	my ($rc, $out, $err) = run([@lint, $rpm, $webrpm // (), $srpm // ()]);
	my ($errors) = $out =~ /(\d+) errors?, \d+ warnings?/;
	is($errors, 0, 'rpmlint: 0 errors') or diag "$out$err";
	diag "rpmlint:\n" . join("\n", grep { /: [EW]: | errors?, / }
	    split /\n/, $out);
}

# --- files -----------------------------------------------------------------

my %file;	# path -> { flags, mode, user, group }
for (split /\n/, q_rpm('--qf', '[%{FILENAMES}\t%{FILEFLAGS:fflags}\t'
    . '%{FILEMODES:perms}\t%{FILEUSERNAME}\t%{FILEGROUPNAME}\n]')) {
	my ($p, $f, $m, $u, $g) = split /\t/;
	$file{$p} = { flags => $f, mode => $m, user => $u, group => $g };
}

subtest 'file list (SPEC §6)' => sub {
	my @src = sort map { s{^.*/}{}r } glob($t->srcdir . '/migrations/*.sql');
	ok(@src > 0, 'the source tree has migrations');
	my @want = ('/usr/sbin/dashcgi', '/etc/dashcgi',
	    '/etc/dashcgi/dashcgi.yaml', '/usr/share/dashcgi',
	    '/usr/share/dashcgi/migrations',
	    (map { "/usr/share/dashcgi/migrations/$_" } @src),
	    '/usr/share/dashcgi/nginx', '/usr/share/dashcgi/nginx/dashcgi.conf',
	    '/usr/share/dashcgi/nginx/dashcgi-http.conf',
	    (map { "/usr/lib/systemd/system/$_" } qw(dashcgi.service
		dashcgi.socket dashcgi-maintenance.service
		dashcgi-maintenance.timer)));
	my @got = grep {
		!m{^/usr/lib/\.build-id(/|$)} && !m{^/usr/share/doc/}
		&& !m{^/usr/share/man/}
	} sort keys %file;
	is_deeply(\@got, [sort @want], 'binary, config, migrations, nginx, units');
	ok((grep { m{^/usr/share/man/man8/dashcgi\.8(\.\w+)?$} } keys %file),
	    'dashcgi(8)');
	ok((grep { m{^/usr/share/man/man5/dashcgi\.yaml\.5(\.\w+)?$} }
	    keys %file), 'dashcgi.yaml(5)');
	ok((grep { m{^/usr/share/doc/dashcgi[^/]*/README\.md$} } keys %file),
	    'README.md as %doc');
};

subtest 'config flags, owners and modes' => sub {
	my $c = $file{'/etc/dashcgi/dashcgi.yaml'} || {};
	like($c->{flags} // '', qr/c/, 'dashcgi.yaml is %config');
	like($c->{flags} // '', qr/n/, '... (noreplace)');
	is("$c->{mode} $c->{user}:$c->{group}", '-rw-r----- root:dashcgi',
	    '... root:dashcgi 0640');
	my $d = $file{'/etc/dashcgi'} || {};
	is("$d->{mode} $d->{user}:$d->{group}", 'drwxr-x--- root:dashcgi',
	    '/etc/dashcgi root:dashcgi 0750');
	is_deeply([grep { $file{$_}{flags} =~ /c/ } sort keys %file],
	    ['/etc/dashcgi/dashcgi.yaml'], 'nothing else is %config');
	is($file{'/usr/sbin/dashcgi'}{mode}, '-rwxr-xr-x', 'the binary is 0755');
	is_deeply([grep { $file{$_}{user} ne 'root' } sort keys %file], [],
	    'every file is owned by root');
};

# --- scriptlets --------------------------------------------------------------

my %script;
{
	my $all = q_rpm('--scripts');
	my $cur;
	for (split /\n/, $all) {
		if (/^(\w+) scriptlet(?: \(using ([^)]+)\))?:$/) {
			$cur = $1;
			next;
		}
		$script{$cur} .= "$_\n" if defined $cur;
	}
}

subtest 'scriptlets' => sub {
	is_deeply([sort keys %script], [qw(postinstall postuninstall preinstall
	    preuninstall)], 'pre, post, preun, postun');
	for my $s (sort keys %script) {
		my ($rc, $out, $err) = run(['sh', '-n', '-c', $script{$s}]);
		is($rc, 0, "$s: valid sh") or diag $err;
	}
	my $pre = $script{preinstall} // '';
	like($pre, qr/getent group dashcgi .*\|\| groupadd -r dashcgi/,
	    '%pre creates the group dashcgi unless it exists');
	like($pre, qr/getent passwd dashcgi .*\|\|\s*\\?\s*useradd -r -g dashcgi\b[^\n]*\n?[^\n]*-s \/sbin\/nologin/s,
	    '%pre creates the system user dashcgi, no login shell');
	like($pre, qr/exit 0\s*$/, '%pre never fails the transaction');

	my $post = $script{postinstall} // '';
	like($post, qr/\$1 -eq 1.*systemctl --no-reload preset dashcgi\.socket dashcgi\.service\s*\\?\s*dashcgi-maintenance\.timer/s,
	    '%post: presets decide enabling, on first install only');
	unlike($post, qr/\b(start|restart|enable --now)\b/,
	    '%post starts nothing (the database comes first)');

	my $preun = $script{preuninstall} // '';
	like($preun, qr/\$1 -eq 0.*disable --now dashcgi\.service\s*\\?\s*dashcgi\.socket dashcgi-maintenance\.timer/s,
	    '%preun: erase disables and stops the units');

	my $postun = $script{postuninstall} // '';
	like($postun, qr/daemon-reload/, '%postun reloads systemd');
	like($postun, qr/\$1 -ge 1.*try-restart dashcgi\.service/s,
	    '%postun: an upgrade restarts a running server');
	for my $s (sort keys %script) {
		like($script{$s}, qr/\|\| :/, "$s: a failing systemctl is not fatal")
		    if $s ne 'preinstall';
	}
};

# --- requirements ---------------------------------------------------------

subtest 'requirements' => sub {
	my %req;
	for (split /\n/, q_rpm('--qf', '[%{REQUIRENAME}\t%{REQUIREFLAGS:deptype}\n]')) {
		my ($n, $type) = split /\t/;
		$req{$n}{$_} = 1 for split /,/, $type;
	}
	for my $lib (qw(libfcgi.so.0()(64bit) libjson-c.so.5()(64bit)
	    libpq.so.5()(64bit) libyaml-0.so.2()(64bit))) {
		ok($req{$lib}{auto}, "requires $lib (found by rpm)");
	}
	ok($req{'nginx-filesystem'}{manual},
	    'requires nginx-filesystem (its nginx group owns the socket)');
	ok($req{'shadow-utils'}{pre}, 'Requires(pre): shadow-utils (useradd)');
	ok($req{systemd}{$_}, "Requires($_): systemd") for qw(post preun postun);
	my @unexpected = grep {
		!$req{$_}{auto} && !$req{$_}{rpmlib} && !$req{$_}{interp}
		&& !$req{$_}{config}
		&& !/^(nginx-filesystem|shadow-utils|systemd)$/
	} sort keys %req;
	is_deeply(\@unexpected, [], 'nothing else is required');
};

# --- the build -------------------------------------------------------------

subtest '%check ran the unit tests' => sub {
	my $log = "$dir/build-rpm.log";
	ok(-f $log, 'the rpmbuild log is kept') or return;
	my $text = do { local (@ARGV, $/) = ($log); <> };
	like($text, qr/^Executing\(%check\)/m, '%check ran');
	my @pass = $text =~ /^PASS: t\/unit\//mg;
	cmp_ok(scalar @pass, '>', 10, 'unit test cases passed: ' . scalar @pass);
	unlike($text, qr/^(FAIL|ERROR): /m, 'none failed');
	like($text, qr/-fstack-protector-strong.*-D_FORTIFY_SOURCE=2|-D_FORTIFY_SOURCE=2.*-fstack-protector-strong/,
	    'compiled with the hardening flags');
	like($text, qr/-Wl,-z,relro -Wl,-z,now -pie/, 'linked with relro, now, pie');
};

my $root = "$tmp/rpmroot";
mkdir $root or die "mkdir $root: $!";
{
	my ($rc, $out, $err) = run(['sh', '-c', 'rpm2cpio "$1" | cpio -idm --quiet',
	    'sh', $rpm], cwd => $root);
	die "cannot unpack $rpm: $err" if $rc != 0;
}

subtest 'the binary is hardened' => sub {
	# Control-flow protection is not asked: Debian 12's crt files lack
	# the CET note, so no binary linked here can carry it.
	my ($rc, $out) = run(['hardening-check', '--nocfprotection',
	    "$root/usr/sbin/dashcgi"]);
	is($rc, 0, 'hardening-check: PIE, stack protector, fortify, relro, now')
	    or diag $out;
};

subtest 'systemd-analyze: the rpm\'s units' => sub {
	# verify checks the executables and man pages the units name: point
	# them at the unpacked payload.
	my $units = "$tmp/units";
	mkdir $units;
	my @u = qw(dashcgi.socket dashcgi.service dashcgi-maintenance.service
	    dashcgi-maintenance.timer);
	for my $u (@u) {
		open(my $in, '<', "$root/usr/lib/systemd/system/$u") or die "$u: $!";
		open(my $o, '>', "$units/$u") or die "$units/$u: $!";
		while (<$in>) {
			s{^(Exec\w+=)/usr/sbin/}{$1$root/usr/sbin/};
			print $o $_;
		}
		close $o;
	}
	my ($rc, $out, $err) = run(['systemd-analyze', 'verify',
	    map { "$units/$_" } @u], env => { MANPATH => "$root/usr/share/man" });
	is($rc, 0, 'systemd-analyze verify');
	is("$out$err", '', 'no findings') or diag "$out$err";
	like(do { local (@ARGV, $/) = ("$units/dashcgi.socket"); <> },
	    qr/^SocketGroup=nginx$/m, 'the socket belongs to group nginx');
	for my $s (qw(dashcgi.service dashcgi-maintenance.service)) {
		($rc, $out, $err) = run(['systemd-analyze', 'security',
		    '--offline=true', "$root/usr/lib/systemd/system/$s"]);
		my ($score) = $out =~ /Overall exposure level for \S+: ([\d.]+)/;
		ok(defined $score && $score <= 1.5, "$s exposure $score <= 1.5")
		    or diag "$out$err";
	}
};

# --- the web UI subpackage (SPEC §12) -------------------------------------

subtest 'dashcgi-web: the built UI, noarch, no node at run time' => sub {
	ok($webrpm, 'dashcgi-web-*.noarch.rpm was built') or return;
	my ($rc, $out, $err) = run(['rpm', '-qp', '--qf',
	    '%{ARCH}\n[%{REQUIRENAME}\n]', $webrpm]);
	is($rc, 0, 'rpm -qp') or diag $err;
	my ($arch, @req) = split /\n/, $out;
	is($arch, 'noarch', 'architecture-independent');
	ok((grep { /^dashcgi = / } @req) || (grep { $_ eq 'dashcgi' } @req),
	    'requires dashcgi') or diag "@req";
	is_deeply([grep { /^(nodejs|npm)\b/ } @req], [],
	    'nodejs and npm are build requirements only');
	($rc, $out) = run(['rpm', '-qp', '--requires', $rpm]);
	unlike($out, qr/^(nodejs|npm)\b/m, '... of dashcgi too');
	($rc, $out, $err) = run(['rpm', '-qlp', $webrpm]);
	my @files = split /\n/, $out;
	ok((grep { $_ eq '/usr/share/dashcgi/www/index.html' } @files),
	    '/usr/share/dashcgi/www/index.html');
	ok((grep { $_ eq '/usr/share/dashcgi/www/plugins/index.json' } @files),
	    '/usr/share/dashcgi/www/plugins/index.json');
	is_deeply([grep { !m{^/usr/share/dashcgi/www(/|$)} && !m{^/usr/share/doc/} }
	    @files], [], 'nothing outside /usr/share/dashcgi/www');
	($rc, $out) = run(['rpm', '-qlp', $rpm]);
	unlike($out, qr{/www(/|$)}m, 'dashcgi itself carries no UI file');
};

done_testing;
