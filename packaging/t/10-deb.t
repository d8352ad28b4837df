#!/usr/bin/perl
# packaging/t/10-deb.t -- the .deb, for real, on this machine (as root):
# lintian; `apt-get install ./dashcgi_*.deb`; the installed layout, the
# user, the conffile's owner and mode, units enabled but nothing
# started; systemd-analyze verify and the security rating of the
# installed units; a throwaway PostgreSQL; the installed
# `dashcgi migrate up` and `dashcgi maintenance` as user dashcgi; the
# installed binary started as dashcgi.service says, on a socket made as
# dashcgi.socket says (systemd socket activation, emulated: this
# machine's PID 1 is not systemd); nginx, running as www-data, in front
# with the installed snippets; a smoke test; SIGHUP as ExecReload sends
# it; reinstall keeps an edited config; remove, then purge, leaves no
# file of ours.
#
# Run by `make package-check` (DASHCGI_PACKAGES = the packages' dir).
# It installs and purges the packages dashcgi and dashcgi-web (the web
# UI, architecture-independent, served by the snippet at /): it refuses
# to run where dashcgi is already installed.
use strict;
use warnings;
use Test::More;
use DashTest;
use Fcntl qw(F_SETFD);
use File::Find ();
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Socket::UNIX;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(sleep time);

die "packaging/t/10-deb.t installs a package: run it as root\n" if $> != 0;
my $dir = $ENV{DASHCGI_PACKAGES}
    // die "set DASHCGI_PACKAGES to the directory of the built packages "
    . "(make package-check does)\n";
my ($deb) = grep { !/-dbgsym_/ } glob("$dir/dashcgi_*.deb");
my ($changes) = glob("$dir/dashcgi_*.changes");
die "no dashcgi_*.deb in $dir: run make deb first\n" unless $deb;
my ($webdeb) = glob("$dir/dashcgi-web_*_all.deb");
die "no dashcgi-web_*_all.deb in $dir: run make deb first\n" unless $webdeb;
for my $tool (qw(lintian apt-get dpkg-query systemd-analyze setpriv runuser
    hardening-check)) {
	die "$tool not found (apt-get install lintian devscripts systemd "
	    . "util-linux)\n" unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}
if (system('dpkg-query -W -f=\'${Status}\' dashcgi 2>/dev/null '
    . '| grep -q installed') == 0) {
	die "dashcgi is installed on this machine; this test installs and "
	    . "purges it: apt-get purge dashcgi first\n";
}

my $t = DashTest->new(pg => 1, nginx => 0, migrate => 0, start => 0);
my $tmp = $t->tmpdir;
my ($version) = $deb =~ /dashcgi_([^_]+)_/;
my $upstream = $version =~ s/-[^-]+$//r;

my %CLEAN_ENV = map { $_ => undef } qw(DATABASE_URL DB_HOST DB_PORT DB_NAME
    DB_USER DB_PASSWORD DB_SSLMODE DB_CONNECT_TIMEOUT DB_QUERY_TIMEOUT
    DB_CONN_MAX_LIFETIME DB_MAX_OPEN_CONNS DASHCGI_LISTEN
    DASHCGI_MIGRATIONS_DIR LISTEN_PID LISTEN_FDS LISTEN_FDNAMES);
my %APT_ENV = (DEBIAN_FRONTEND => 'noninteractive');

sub run {
	my ($cmd, %o) = @_;
	my ($rc, $out, $err) = $t->run_cmd($cmd, env => { %CLEAN_ENV,
	    %{ $o{env} || {} } }, timeout => $o{timeout} // 120,
	    cwd => $o{cwd});
	return ($rc, $out, $err);
}

sub as_dashcgi { (['runuser', '-u', 'dashcgi', '--', @_]) }

sub slurp {
	my ($p) = @_;
	open(my $fh, '<', $p) or return undef;
	local $/;
	return scalar <$fh>;
}

# "Key=Value" lines of a unit file -> { Key => [values] }.
sub unit {
	my ($path) = @_;
	my $text = slurp($path) // die "cannot read $path\n";
	my %u;
	for (split /\n/, $text) {
		next if /^\s*(#|;|\[|$)/;
		push @{ $u{$1} }, $2 if /^(\w+)=(.*)$/;
	}
	return \%u;
}

# Every path under the roots dpkg and the maintainer scripts write to.
# /lib and friends are symlinks into /usr on this (merged-/usr) system.
sub snapshot {
	my %s;
	for my $root (qw(/etc /usr /var /opt /srv /run /lib /lib64 /sbin /bin)) {
		next if -l $root || !-d $root;
		File::Find::find({ no_chdir => 1, wanted => sub {
			$s{$File::Find::name} = 1;
		} }, $root);
	}
	return \%s;
}

# --- lintian -------------------------------------------------------------

{
	my ($rc, $out, $err) = run(['lintian', '--pedantic', '-I',
	    $changes // $deb], timeout => 300);
	my @errors = grep { /^E: / } split /\n/, $out;
	is_deeply(\@errors, [], 'lintian --pedantic reports no errors');
	diag "lintian:\n$out" if length $out;
	$err =~ s/^running with root privileges is not recommended!\n//m;
	is($err, '', 'lintian ran cleanly') or diag $err;
}

# --- install -------------------------------------------------------------

my $before = snapshot();
{
	(my $cwd = $deb) =~ s{/[^/]+$}{};
	(my $file = $deb) =~ s{^.*/}{};
	(my $webfile = $webdeb) =~ s{^.*/}{};
	my ($rc, $out, $err) = run(['apt-get', 'install', '-y', "./$file",
	    "./$webfile"], cwd => $cwd, env => \%APT_ENV, timeout => 300);
	is($rc, 0, "apt-get install ./$file ./$webfile") or diag "$out$err";
	like($out, qr/installed and enabled but not started/,
	    'postinst tells the admin what to do next');
}

subtest 'installed layout (SPEC §6)' => sub {
	ok(-x '/usr/sbin/dashcgi', '/usr/sbin/dashcgi');
	my ($rc, $out) = run(['/usr/sbin/dashcgi', 'version']);
	is($out, "dashcgi $upstream\n", "dashcgi version says $upstream");
	my @src = sort map { s{^.*/}{}r } glob($t->srcdir . '/migrations/*.sql');
	my @inst = sort map { s{^.*/}{}r } glob('/usr/share/dashcgi/migrations/*.sql');
	ok(@src > 0, 'the source tree has migrations');
	is_deeply(\@inst, \@src,
	    '/usr/share/dashcgi/migrations holds every migration of the tree');
	for my $f (qw(/usr/share/dashcgi/nginx/dashcgi.conf
	    /usr/share/dashcgi/nginx/dashcgi-http.conf
	    /lib/systemd/system/dashcgi.service /lib/systemd/system/dashcgi.socket
	    /lib/systemd/system/dashcgi-maintenance.service
	    /lib/systemd/system/dashcgi-maintenance.timer
	    /usr/share/man/man8/dashcgi.8.gz /usr/share/man/man5/dashcgi.yaml.5.gz
	    /usr/share/doc/dashcgi/copyright)) {
		ok(-f $f, $f);
	}
	($rc, $out) = run(['man', '-w', 'dashcgi.yaml']);
	like($out, qr{/usr/share/man/man5/dashcgi\.yaml\.5\.gz}, 'man finds dashcgi.yaml(5)');
	# Not control-flow protection: Debian 12's dpkg-buildflags has no
	# "branch" feature yet.
	($rc, $out) = run(['hardening-check', '--nocfprotection',
	    '/usr/sbin/dashcgi']);
	is($rc, 0, 'hardening-check: PIE, stack protector, fortify, relro, now')
	    or diag $out;
};

subtest 'the web UI package (SPEC §12)' => sub {
	my ($rc, $out) = run(['dpkg-deb', '-f', $webdeb, 'Architecture',
	    'Depends']);
	like($out, qr/^Architecture: all$/m, 'dashcgi-web is architecture-independent');
	unlike($out, qr/\b(nodejs|npm)\b/, 'nodejs and npm are not run-time dependencies')
	    or diag $out;
	($rc, $out) = run(['dpkg-deb', '-f', $deb, 'Depends']);
	unlike($out, qr/\b(nodejs|npm)\b/, '... of dashcgi either') or diag $out;
	for my $f (qw(/usr/share/dashcgi/www/index.html
	    /usr/share/dashcgi/www/plugins/index.json)) {
		ok(-f $f, $f);
	}
	my @js = glob('/usr/share/dashcgi/www/static/js/index.*.js');
	ok(@js == 1, 'the entry bundle: static/js/index.<hash>.js');
	($rc, $out) = run(['dpkg-query', '-S', '/usr/share/dashcgi/www/index.html']);
	like($out, qr/^dashcgi-web: /, 'it belongs to dashcgi-web');
	($rc, $out) = run(['dpkg-query', '-L', 'dashcgi']);
	unlike($out, qr{/www(/|$)}m, 'dashcgi itself carries no UI file');
};

subtest 'user, conffile, units enabled, nothing started' => sub {
	my @pw = getpwnam('dashcgi');
	ok(@pw, 'user dashcgi exists');
	cmp_ok($pw[2], '<', 1000, 'a system uid');
	is($pw[7], '/nonexistent', 'home /nonexistent');
	is($pw[8], '/usr/sbin/nologin', 'no login shell');
	my @gr = getgrnam('dashcgi');
	ok(@gr, 'group dashcgi exists');
	is($pw[3], $gr[2], 'its primary group is dashcgi');

	my @st = stat('/etc/dashcgi/dashcgi.yaml');
	is(sprintf('%04o', $st[2] & 07777), '0640', 'dashcgi.yaml mode 0640');
	is($st[4], 0, 'dashcgi.yaml owned by root');
	is($st[5], $gr[2], 'dashcgi.yaml group dashcgi');
	@st = stat('/etc/dashcgi');
	is(sprintf('%04o', $st[2] & 07777), '0750', '/etc/dashcgi mode 0750');
	like(slurp('/var/lib/dpkg/info/dashcgi.conffiles') // '',
	    qr{^/etc/dashcgi/dashcgi\.yaml$}m, 'dashcgi.yaml is a conffile');

	my ($rc, $out, $err) = run(as_dashcgi('/usr/sbin/dashcgi', 'check-config'));
	is($rc, 0, 'user dashcgi reads the installed config') or diag $err;
	($rc, $out, $err) = run(['setpriv', '--reuid=nobody', '--regid=nogroup',
	    '--clear-groups', '/usr/sbin/dashcgi', 'check-config']);
	is($rc, 2, 'another user cannot (exit 2)');
	like($err, qr/Permission denied/, '... permission denied');

	for my $l (qw(sockets.target.wants/dashcgi.socket
	    multi-user.target.wants/dashcgi.service
	    timers.target.wants/dashcgi-maintenance.timer)) {
		my $p = "/etc/systemd/system/$l";
		ok(-l $p && readlink($p) =~ m{/systemd/system/[\w.-]+$},
		    "enabled: $l");
	}
	ok(!-e '/run/dashcgi.sock', 'the socket is not there: nothing started');
	($rc, $out) = run(['pgrep', '-u', 'dashcgi']);
	is($out, '', 'no process runs as dashcgi');
};

subtest 'systemd-analyze: installed units' => sub {
	my @units = map { "/lib/systemd/system/$_" } qw(dashcgi.socket
	    dashcgi.service dashcgi-maintenance.service dashcgi-maintenance.timer);
	my ($rc, $out, $err) = run(['systemd-analyze', 'verify', @units]);
	is($rc, 0, 'systemd-analyze verify (man pages and binary checked too)');
	is("$out$err", '', 'no findings') or diag "$out$err";
	for my $u (qw(dashcgi.service dashcgi-maintenance.service)) {
		($rc, $out, $err) = run(['systemd-analyze', 'security',
		    '--offline=true', "/lib/systemd/system/$u"]);
		my ($score) = $out =~ /Overall exposure level for \S+: ([\d.]+)/;
		ok(defined $score && $score <= 1.5,
		    "$u exposure $score <= 1.5") or diag "$out$err";
		diag "systemd-analyze security --offline=true $u: $score";
	}
};

# --- a database, the way the admin sets one up ---------------------------

my $pgdir = $t->pg_socket_dir;
chmod 0755, $pgdir or die "chmod $pgdir: $!";	# user dashcgi connects here
$t->psql('CREATE ROLE dashcgi LOGIN', db => 'postgres');
$t->psql('ALTER DATABASE dashcgi OWNER TO dashcgi', db => 'postgres');
# As on a packaged PostgreSQL: the OS user dashcgi is the role dashcgi
# by peer authentication, no password anywhere.
{
	my $hba = "$pgdir/data/pg_hba.conf";
	open(my $fh, '>', $hba) or die "$hba: $!";	# keeps postgres' ownership
	print $fh "local all postgres trust\nlocal all all peer\n";
	close $fh or die "$hba: $!";
	$t->psql('SELECT pg_reload_conf()', db => 'postgres');
	my ($rc, $out, $err) = run(['setpriv', '--reuid=nobody', '--regid=nogroup',
	    '--clear-groups', '/usr/lib/postgresql/15/bin/psql', '-XAtq', '-h',
	    $pgdir, '-p', $t->pg_port, '-U', 'dashcgi', '-d', 'dashcgi', '-c',
	    'SELECT 1']);
	like($err, qr/Peer authentication failed/,
	    'peer authentication: only the OS user dashcgi is the role dashcgi');
}

my $conf = '/etc/dashcgi/dashcgi.yaml';
{
	my $c = slurp($conf);
	my $n = 0;
	$n += $c =~ s{^(  host:) /var/run/postgresql$}{$1 $pgdir}m;
	$n += $c =~ s{^(  port:) 5432$}{$1 ${\ $t->pg_port}}m;
	$n += $c =~ s{^(  admins:) \[\]$}{$1 [admin]}m;
	$n += $c =~ s{^(workers:) 4$}{$1 2}m;
	is($n, 4, 'edited the installed config: database, admins, workers');
	open(my $fh, '+<', $conf) or die "$conf: $!";	# keep owner and mode
	truncate($fh, 0);
	print $fh $c;
	close $fh or die "$conf: $!";
}

{
	my ($rc, $out, $err) = run(as_dashcgi('dashcgi', 'migrate', 'up'));
	is($rc, 0, 'runuser -u dashcgi -- dashcgi migrate up') or diag "$out$err";
	like("$out$err", qr{/usr/share/dashcgi/migrations|0001},
	    'applied the installed migrations');
	($rc, $out, $err) = run(as_dashcgi('dashcgi', 'migrate', 'status'));
	is($rc, 0, 'migrate status') or diag "$out$err";
	like($out, qr/\b0 pending\b/, 'nothing pending') or diag "$out$err";
	($rc, $out, $err) = run(as_dashcgi('dashcgi', 'migrate', 'verify'));
	is($rc, 0, 'migrate verify') or diag "$out$err";
}

subtest 'dashcgi maintenance, as the timer runs it' => sub {
	my $svc = unit('/lib/systemd/system/dashcgi-maintenance.service');
	my @exec = split ' ', $svc->{ExecStart}[0];
	is($svc->{User}[0], 'dashcgi', 'runs as dashcgi');
	my ($rc, $out, $err) = run(as_dashcgi(@exec));
	is($rc, 0, "@exec") or diag "$out$err";
	for my $job (qw(audit_partitions expired_tokens template_usage
	    trash_purge audit_retention)) {
		like($err, qr/maintenance job done.*\bjob=$job\b/,
		    "logged what it did: $job");
	}
	# A second run while one holds the lock does nothing, successfully.
	my $holder = $t->psql_bg("SELECT pg_advisory_lock(-8119138536527048995);\n"
	    . "SELECT pg_sleep(4);\n");
	sleep 1;
	($rc, $out, $err) = run(as_dashcgi(@exec));
	is($rc, 0, 'a concurrent run exits 0') or diag "$out$err";
	like($err, qr/another run holds the lock/, '... and says why it did nothing');
	$t->wait_pid($holder, 20);
};

# --- the server, started as the units say --------------------------------

my $sock_unit = unit('/lib/systemd/system/dashcgi.socket');
my $svc_unit = unit('/lib/systemd/system/dashcgi.service');
my $sock_path = $sock_unit->{ListenStream}[0];
my $nginx_group = $sock_unit->{SocketGroup}[0];
is($sock_path, '/run/dashcgi.sock', 'dashcgi.socket listens on /run/dashcgi.sock');
is($nginx_group, 'www-data', "the socket's group is nginx's (www-data)");

# What systemd does for dashcgi.socket: create, chown, chmod, listen.
my ($listener, $made_socket);
{
	if (-S $sock_path) {
		my $probe = IO::Socket::UNIX->new(Type => SOCK_STREAM,
		    Peer => $sock_path);
		die "something listens on $sock_path already\n" if $probe;
		unlink $sock_path;
	}
	$listener = IO::Socket::UNIX->new(Type => SOCK_STREAM,
	    Local => $sock_path, Listen => $sock_unit->{Backlog}[0] // 128)
	    or die "cannot listen on $sock_path: $!\n";
	my $gid = getgrnam($nginx_group) // die "no group $nginx_group\n";
	my $uid = getpwnam($sock_unit->{SocketUser}[0] // 'root');
	chown $uid, $gid, $sock_path or die "chown $sock_path: $!";
	chmod oct($sock_unit->{SocketMode}[0]), $sock_path
	    or die "chmod $sock_path: $!";
	$made_socket = 1;
	fcntl($listener, F_SETFD, 0) or die "fcntl: $!";	# pass it on
}
END { unlink '/run/dashcgi.sock' if $made_socket }

# What systemd does for dashcgi.service: the socket as fd 3 with
# LISTEN_PID/LISTEN_FDS, User=/Group=, a clean environment, ExecStart.
my @exec = split ' ', $svc_unit->{ExecStart}[0];
my $user = $svc_unit->{User}[0];
my $group = $svc_unit->{Group}[0];
my $log = "$tmp/dashcgi-service.log";
my $master = $t->spawn(['perl', '-MPOSIX', '-e',
    'POSIX::dup2(shift(@ARGV), 3) // die "dup2: $!"; $ENV{LISTEN_PID} = $$;'
    . ' exec { $ARGV[0] } @ARGV or die "exec: $!"',
    fileno($listener), 'setpriv', "--reuid=$user", "--regid=$group",
    '--init-groups', '--', @exec], log => $log, env => { %CLEAN_ENV,
    LISTEN_FDS => 1, LISTEN_FDNAMES => 'dashcgi.socket',
    PATH => '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' });
close $listener;	# dashcgi holds it now, as it would under systemd

# nginx as the distribution runs it: workers as www-data, the installed
# http snippet in http {}, the installed server snippet in server {}.
my $port = DashTest::free_port();
{
	mkdir "$tmp/nginx";
	for my $d (qw(body fastcgi proxy scgi uwsgi)) {
		mkdir "$tmp/nginx/$d";
		chown scalar(getpwnam('www-data')), -1, "$tmp/nginx/$d";
	}
	open(my $fh, '>', "$tmp/htpasswd") or die $!;
	print $fh map { "$_:{PLAIN}pw-$_\n" } qw(admin alice);
	close $fh;
	chmod 0644, "$tmp/htpasswd";
	open($fh, '>', "$tmp/nginx.conf") or die $!;
	print $fh <<"EOF";
daemon off;
user www-data www-data;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log $tmp/nginx-access.log;
    client_body_temp_path $tmp/nginx/body;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    proxy_temp_path $tmp/nginx/proxy;
    scgi_temp_path $tmp/nginx/scgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    include /usr/share/dashcgi/nginx/dashcgi-http.conf;
    server {
        listen 127.0.0.1:$port;
        auth_basic "dashboards";
        auth_basic_user_file $tmp/htpasswd;
        include /usr/share/dashcgi/nginx/dashcgi.conf;
    }
}
EOF
	close $fh;
	my @nginx = ('nginx', '-p', "$tmp/", '-c', "$tmp/nginx.conf", '-e',
	    "$tmp/nginx-error.log");
	my ($rc, $out, $err) = run([@nginx, '-t', '-q']);
	is($rc, 0, 'nginx -t accepts the installed snippets') or diag "$out$err";
	$t->spawn(\@nginx, log => "$tmp/nginx-stdout.log");
	my $deadline = time + 15;
	until (IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
	    Proto => 'tcp', Timeout => 1)) {
		die "nginx is not listening after 15s:\n"
		    . (slurp("$tmp/nginx-error.log") // '') if time > $deadline;
		sleep 0.1;
	}
}

my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0, max_redirect => 0);
my $JSON = JSON::PP->new->utf8->canonical;
sub req {
	my ($method, $path, %o) = @_;
	my %h;
	$h{Authorization} = 'Basic ' . encode_base64("$o{user}:pw-$o{user}", '')
	    if $o{user};
	my %args = (headers => \%h);
	if ($o{json}) {
		$h{'Content-Type'} = 'application/json';
		$args{content} = $JSON->encode($o{json});
	}
	return $http->request($method, "http://127.0.0.1:$port$path", \%args);
}
sub body { my $j = eval { $JSON->decode($_[0]{content}) }; $j }

subtest 'smoke test through nginx' => sub {
	my $deadline = time + 20;
	my $r;
	do {
		$r = req(GET => '/ready');
		sleep 0.2 if $r->{status} != 200;
	} until ($r->{status} == 200 || time > $deadline);
	is($r->{status}, 200, 'GET /ready: 200') or diag $r->{content},
	    slurp($log) // '', slurp("$tmp/nginx-error.log") // '';
	like(slurp($log) // '', qr/using the socket passed by systemd/,
	    'dashcgi took the socket from "systemd"');
	my ($rc, $out) = run(['ps', '-o', 'user=', '-p', $master]);
	like($out, qr/^dashcgi\s*$/, 'the master runs as dashcgi');

	$r = req(GET => '/live');
	is($r->{status}, 200, 'GET /live: 200');
	$r = req(GET => '/api/v1/health');
	is($r->{status}, 200, 'GET /api/v1/health: 200');
	is((body($r) // {})->{status}, 'healthy', '... healthy');
	$r = req(GET => '/api/v1/projects');
	is($r->{status}, 401, 'the API needs a login (nginx auth_basic)');

	# Create and read a dashboard.
	$r = req(POST => '/api/v1/projects', user => 'admin', json => {
	    kind => 'Project', metadata => { name => 'smoke' }, spec => {} });
	is($r->{status}, 200, 'POST /api/v1/projects as admin: 200')
	    or diag $r->{content};
	my $dash = { kind => 'Dashboard',
	    metadata => { name => 'smoke-dash', project => 'smoke' },
	    spec => { display => { name => 'Smoke' }, duration => '1h',
		variables => [], panels => { p1 => { kind => 'Panel', spec => {
		    display => { name => 'p1' }, plugin => {
		    kind => 'TimeSeriesChart', spec => {} } } } },
		layouts => [{ kind => 'Grid', spec => { items => [{ x => 0,
		    y => 0, width => 12, height => 6,
		    content => { '$ref' => '#/spec/panels/p1' } }] } }] } };
	$r = req(POST => '/api/v1/projects/smoke/dashboards', user => 'admin',
	    json => $dash);
	is($r->{status}, 200, 'POST a dashboard: 200') or diag $r->{content};
	is($r->{headers}{etag}, '"0"', '... ETag "0"');
	$r = req(GET => '/api/v1/projects/smoke/dashboards/smoke-dash',
	    user => 'admin');
	is($r->{status}, 200, 'GET it back: 200') or diag $r->{content};
	my $got = body($r) // {};
	is($got->{spec}{display}{name}, 'Smoke', '... the stored document');
	is($got->{metadata}{version}, 0, '... version 0');
	is($got->{metadata}{project}, 'smoke', '... in project smoke');
};

subtest 'the installed web UI through nginx' => sub {
	my $r = req(GET => '/', user => 'alice');
	is($r->{status}, 200, 'GET /: 200');
	like($r->{headers}{'content-type'} // '', qr{^text/html}, '... text/html');
	like($r->{content}, qr/<div id="root">/, '... the UI\'s index.html');
	my $index = $r->{content};
	$r = req(GET => '/projects/smoke/dashboards/smoke-dash', user => 'alice');
	is($r->{status}, 200, 'a client-side route: 200');
	is($r->{content}, $index, '... answers index.html');
	my ($js) = $index =~ m{<script[^>]+src="(/static/js/index\.[0-9a-f]+\.js)"};
	ok($js, "index.html loads its bundle (@{[ $js // 'none' ]})");
	$r = req(GET => $js // '/static/js/none.js');
	is($r->{status}, 200, 'the bundle is served (no login: a share link\'s page loads it)');
	like($r->{headers}{'content-type'} // '', qr{^application/javascript},
	    '... as application/javascript');
	$r = req(GET => '/api/v1/plugins');
	is($r->{status}, 200, '/api/v1/plugins: the installed plugin list');
	ok((grep { $_->{metadata}{name} eq 'TimeSeriesChart' }
	    @{ body($r) // [] }), '... with TimeSeriesChart');
	$r = req(GET => '/projects/smoke');
	is($r->{status}, 401, 'the UI needs a login');
};

subtest 'reload and stop, as the unit does them' => sub {
	my $mark = -s $log;
	# ExecReload=/bin/kill -HUP $MAINPID
	my @reload = split ' ', $svc_unit->{ExecReload}[0];
	s/\$MAINPID/$master/ for @reload;
	my ($rc) = run(\@reload);
	is($rc, 0, "ExecReload: @reload");
	my $deadline = time + 10;
	sleep 0.1 until (substr(slurp($log) // '', $mark) =~ /configuration reloaded/
	    || time > $deadline);
	like(substr(slurp($log) // '', $mark), qr/configuration reloaded/,
	    'SIGHUP reloads the configuration');
	$deadline = time + 10;
	my $r;
	do { $r = req(GET => '/live'); sleep 0.1 if $r->{status} != 200 }
	    until ($r->{status} == 200 || time > $deadline);
	is($r->{status}, 200, 'still serving after the reload');

	# KillMode=mixed: SIGTERM to the master only.
	is($svc_unit->{KillMode}[0], 'mixed', 'KillMode=mixed');
	kill 'TERM', $master;
	my $code = $t->stop_spawned($master, 30);
	is($code, 0, 'SIGTERM: the master exits 0');
};

# --- reinstall, remove, purge --------------------------------------------

subtest 'reinstall keeps the edited conffile and its mode' => sub {
	my $edited = slurp($conf);
	(my $cwd = $deb) =~ s{/[^/]+$}{};
	(my $file = $deb) =~ s{^.*/}{};
	my ($rc, $out, $err) = run(['apt-get', 'install', '-y', '--reinstall',
	    "./$file"], cwd => $cwd, env => \%APT_ENV, timeout => 300);
	is($rc, 0, 'apt-get install --reinstall') or diag "$out$err";
	is(slurp($conf), $edited, 'the edited config is kept');
	my @st = stat($conf);
	is(sprintf('%04o', $st[2] & 07777), '0640', 'still 0640');
	is(scalar getgrgid($st[5]), 'dashcgi', 'still group dashcgi');
};

subtest 'remove keeps the configuration, purge removes every file' => sub {
	my ($rc, $out, $err) = run(['apt-get', 'remove', '-y', 'dashcgi'],
	    env => \%APT_ENV, timeout => 300);
	is($rc, 0, 'apt-get remove dashcgi') or diag "$out$err";
	ok(!-e '/usr/sbin/dashcgi', 'the binary is gone');
	ok(!-e '/usr/share/dashcgi/www', 'the UI went with it (dashcgi-web depends on it)');
	ok(-f $conf, 'the configuration stays until purge');

	($rc, $out, $err) = run(['apt-get', 'purge', '-y', 'dashcgi',
	    'dashcgi-web'], env => \%APT_ENV, timeout => 300);
	is($rc, 0, 'apt-get purge dashcgi dashcgi-web') or diag "$out$err";
	ok(!-e '/etc/dashcgi', '/etc/dashcgi is gone');
	ok(!-e '/run/dashcgi.sock', '/run/dashcgi.sock is gone');
	ok(defined getpwnam('dashcgi'),
	    'the system user stays (its uid must not be recycled)');

	# Nothing new but what dpkg, apt and the logs keep, and empty
	# directories of systemd's that enabling created.
	my $after = snapshot();
	my @left = grep { !$before->{$_} } sort keys %$after;
	my @ours = grep {
		!m{^/var/log/} && !m{^/var/cache/} && !m{^/var/lib/apt/}
		&& !m{^/var/lib/dpkg/(?!info/dashcgi)}
		&& !m{^/etc/(passwd|group|shadow|gshadow)-$}
		&& !(-d $_ && !/dashcgi/ && is_empty_dir($_))
		&& !(m{^/run/} && !/dashcgi/)
	} @left;
	is_deeply(\@ours, [], 'purge leaves no file of ours') or
	    diag join("\n", @ours);
	# (man-db's cache of formatted pages is man-db's: mandb prunes it.)
	my @found = grep { /dashcgi/ && !m{^/var/(log|cache)/} } sort keys %$after;
	my @preexisting = grep { $before->{$_} } @found;
	is_deeply([grep { !$before->{$_} } @found], [],
	    'no path named dashcgi appeared') or diag join("\n", @found);
	diag "paths named dashcgi that were there before the test: @preexisting"
	    if @preexisting;
};

sub is_empty_dir {
	opendir(my $d, $_[0]) or return 0;
	my @e = grep { !/^\.\.?$/ } readdir $d;
	return !@e;
}

done_testing;
