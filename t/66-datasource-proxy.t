#!/usr/bin/perl
# HTTPProxy datasources (SPEC section 11): a real Prometheus on loopback,
# scraping dashcgi's own /metrics through nginx, reached through
# /proxy/globaldatasources/{ds}/… and /proxy/projects/{p}/datasources/
# {ds}/…: dashcgi checks the role and the allowedEndpoints and hands the
# request to nginx (X-Accel-Redirect), which proxies it.  The answer is
# Prometheus's own; a method or path outside allowedEndpoints is 403
# endpoint_not_allowed (audited); a caller without a role in the
# project is 404.  An echo server shows what nginx sends upstream: the
# datasource's headers, not the caller's credentials; the form body of
# a POST, unchanged.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(config => { auth => { admins => ['admin'] } });
my $JSON = JSON::PP->new->utf8->canonical;
my $tmp = $t->tmpdir;

# Projects a (alice viewer) and b (bob viewer).
$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by)
    VALUES ('a', 'test', 'test'), ('b', 'test', 'test');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('a', 'alice', 'viewer', 'test', 'test'),
           ('b', 'bob', 'viewer', 'test', 'test');
SQL

# A real Prometheus scraping dashcgi's /metrics through nginx.
my $prom_bin = DashTest::_which('prometheus', '/usr/bin', '/usr/sbin')
    or BAIL_OUT('prometheus not installed (t/deps installs it)');
my $pport = DashTest::free_port();
my $nport = $t->nginx_port;
open(my $fh, '>', "$tmp/prometheus.yml") or die $!;
print $fh <<"EOF";
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: dashcgi
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$nport']
EOF
close $fh;
mkdir "$tmp/prom-data";
my $prom = $t->spawn([$prom_bin, "--config.file=$tmp/prometheus.yml",
    "--storage.tsdb.path=$tmp/prom-data",
    "--web.listen-address=127.0.0.1:$pport"], log => "$tmp/prometheus.log");
my $PROM = "http://127.0.0.1:$pport";
my $http = HTTP::Tiny->new(timeout => 10);

# Bounded: up to 60 s for four scrapes of dashcgi.
my $scraped;
for (1 .. 120) {
	my $r = $http->get("$PROM/api/v1/query?query=count_over_time(up%7Bjob%3D%22dashcgi%22%7D%5B1m%5D)");
	if ($r->{success}) {
		my $j = eval { $JSON->decode($r->{content}) };
		my $v = $j && $j->{data}{result}[0]{value}[1];
		if (defined $v && $v >= 4) { $scraped = 1; last }
	}
	sleep 0.5;
}
ok($scraped, 'Prometheus scraped dashcgi through nginx four times')
    or BAIL_OUT('no scrape: ' . `tail -5 $tmp/prometheus.log`);

# An echo server: answers each request with the request itself.
my $eport = DashTest::free_port();
my $echo = $t->spawn([$^X, '-MIO::Socket::INET', '-e', <<'PERL', $eport]);
my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $ARGV[0],
    Listen => 8, ReuseAddr => 1) or die $!;
while (my $c = $s->accept) {
	my ($req, $len) = ('', 0);
	while (defined(my $l = <$c>)) {
		$req .= $l;
		$len = $1 if $l =~ /^Content-Length:\s*(\d+)/i;
		last if $l eq "\r\n";
	}
	read($c, my $body, $len) if $len;
	$req .= $body // '';
	print $c "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    . "X-Accel-Redirect: /api/v1/me\r\nSet-Cookie: s=1\r\n"
	    . "Content-Length: " . length($req) . "\r\nConnection: close\r\n\r\n$req";
	close $c;
}
PERL
for (1 .. 100) {
	last if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$eport");
	sleep 0.1;
}

my @ALLOWED = (
	{ endpointPattern => '/api/v1/query_range', method => 'POST' },
	{ endpointPattern => '/api/v1/query', method => 'GET' },
	{ endpointPattern => '/api/v1/label/([a-zA-Z0-9_-]+)/values',
	    method => 'GET' },
);
sub proxy_spec {
	my ($url, %o) = @_;
	return { default => JSON::PP::false, plugin => {
	    kind => 'PrometheusDatasource', spec => { proxy => {
	    kind => 'HTTPProxy', spec => { url => $url,
	    allowedEndpoints => $o{allowed} // \@ALLOWED,
	    $o{headers} ? (headers => $o{headers}) : () } } } } };
}

my $r = $t->request(POST => '/api/v1/globaldatasources', user => 'admin',
    json => { kind => 'GlobalDatasource', metadata => { name => 'prom' },
    spec => proxy_spec("$PROM/") });
is($r->{status}, 200, 'admin creates global datasource prom')
    or diag $r->{content};
$r = $t->request(POST => '/api/v1/projects/a/datasources', user => 'admin',
    json => { kind => 'Datasource', metadata => { name => 'prom-a',
    project => 'a' }, spec => proxy_spec($PROM) });
is($r->{status}, 200, 'admin creates datasource prom-a in project a')
    or diag $r->{content};
$r = $t->request(POST => '/api/v1/globaldatasources', user => 'admin',
    json => { kind => 'GlobalDatasource', metadata => { name => 'echo' },
    spec => proxy_spec("http://127.0.0.1:$eport/base", allowed => [],
    headers => { Authorization => 'Bearer ds-token',
    'X-Scope-OrgID' => 'tenant-1' }) });
is($r->{status}, 200, 'a datasource without allowedEndpoints, with headers')
    or diag $r->{content};
$r = $t->request(POST => '/api/v1/globaldatasources', user => 'admin',
    json => { kind => 'GlobalDatasource', metadata => { name => 'odd' },
    spec => proxy_spec("http://127.0.0.1:$eport", allowed => [],
    headers => { 'X-Other' => '1' }) });
is($r->{status}, 200, 'a datasource with a header nginx cannot set');
# A dashboard's own datasource (Perses's local scope, spec.datasources).
$r = $t->request(POST => '/api/v1/projects/a/dashboards', user => 'admin',
    json => { kind => 'Dashboard', metadata => { name => 'dl', project => 'a' },
    spec => { display => { name => 'dl' }, duration => '1h', panels => {},
    layouts => [], datasources => { 'local-prom' => proxy_spec($PROM) } } });
is($r->{status}, 200, 'a dashboard with its own datasource local-prom')
    or diag $r->{content};
my $LOCAL = '/proxy/projects/a/dashboards/dl/datasources/local-prom';

my $end = int(time) - 1;
my $start = $end - 60;
my $form = "query=up%7Bjob%3D%22dashcgi%22%7D&start=$start&end=$end&step=1";

subtest 'query_range through the proxy is Prometheus\'s own answer' => sub {
	my $direct = $http->post("$PROM/api/v1/query_range", { headers => {
	    'Content-Type' => 'application/x-www-form-urlencoded' },
	    content => $form });
	is($direct->{status}, 200, 'Prometheus answers directly');
	my $want = $JSON->decode($direct->{content});
	ok(@{ $want->{data}{result} } == 1 &&
	    @{ $want->{data}{result}[0]{values} } >= 2,
	    'one series, several points');
	for my $c (['global', '/proxy/globaldatasources/prom', 'bob'],
	    ['project', '/proxy/projects/a/datasources/prom-a', 'alice'],
	    ['dashboard', $LOCAL, 'alice']) {
		my ($name, $base, $user) = @$c;
		my $r = $t->request(POST => "$base/api/v1/query_range",
		    user => $user, body => $form,
		    content_type => 'application/x-www-form-urlencoded');
		is($r->{status}, 200, "$name: 200") or diag $r->{content};
		is_deeply(eval { $JSON->decode($r->{content}) }, $want,
		    "$name: the same JSON as Prometheus's");
		is($t->header($r, 'X-Dashcgi-Proxy-Url'), undef,
		    "$name: dashcgi's hand-over headers do not reach the client");
	}
	$r = $t->request(GET => "/proxy/globaldatasources/prom/api/v1/query?"
	    . "query=up&time=$end", user => 'alice');
	is($r->{status}, 200, 'GET query with its query string');
	is(eval { $JSON->decode($r->{content})->{data}{resultType} }, 'vector',
	    'a vector, from Prometheus');
	$r = $t->request(GET => '/proxy/globaldatasources/prom/api/v1/label/job/values',
	    user => 'alice');
	is_deeply(eval { $JSON->decode($r->{content})->{data} }, ['dashcgi'],
	    'a pattern with a group: label values');
};

subtest 'allowedEndpoints: anything else is 403 endpoint_not_allowed' => sub {
	for my $c (['GET', '/api/v1/status/config', 'a path not listed'],
	    ['GET', '/api/v1/query_range?' . $form, 'a listed path, other method'],
	    ['GET', '/api/v1/query/x', 'the pattern is anchored at the end'],
	    ['GET', '/x/api/v1/query', 'and at the start'],
	    ['GET', '/api/v1/label/a%2Fb/values', 'a decoded slash does not pass a segment pattern']) {
		my ($m, $path, $name) = @$c;
		my $r = $t->request($m => "/proxy/globaldatasources/prom$path",
		    user => 'alice');
		is($r->{status}, 403, "$name: 403") or diag $r->{content};
		my $j = eval { $t->json($r) } // {};
		is($j->{code}, 'endpoint_not_allowed', "$name: the code");
	}
	my $r = $t->request(GET => '/proxy/globaldatasources/prom/api/v1/status/config',
	    user => 'alice');
	my $rid = $t->header($r, 'X-Request-Id');
	like($t->json($r)->{message}, qr{^GET /api/v1/status/config is not one of the allowedEndpoints of datasource "prom"},
	    'the message names method, path and datasource');
	is($t->psql("SELECT action || ' ' || result || ' ' || resource || ' '"
	    . " || (details->>'endpoint') FROM audit_log WHERE request_id = '$rid'"),
	    'datasource.proxy denied prom /api/v1/status/config',
	    'the refusal is audited');
	$r = $t->request(GET => '/proxy/globaldatasources/prom/api/v1/../../../api/v1/status/config',
	    user => 'alice');
	isnt($r->{status}, 200, 'dot segments do not walk out of the check');
};

subtest 'roles' => sub {
	my $r = $t->request(POST => '/proxy/projects/a/datasources/prom-a/api/v1/query_range',
	    user => 'bob', body => $form,
	    content_type => 'application/x-www-form-urlencoded');
	is($r->{status}, 404, 'a viewer of another project: 404');
	is(eval { $t->json($r)->{code} }, 'not_found', 'not_found');
	$r = $t->request(POST => '/proxy/projects/b/datasources/prom-a/api/v1/query_range',
	    user => 'bob', body => $form,
	    content_type => 'application/x-www-form-urlencoded');
	is($r->{status}, 404, 'a project datasource is not in another project');
	$r = $t->request(GET => '/proxy/globaldatasources/nope/api/v1/query',
	    user => 'bob');
	is($r->{status}, 404, 'an unknown datasource: 404');
	$r = $t->request(POST => "$LOCAL/api/v1/query_range", user => 'bob',
	    body => $form, content_type => 'application/x-www-form-urlencoded');
	is($r->{status}, 404, 'a dashboard\'s datasource, to a viewer of '
	    . 'another project: 404');
	for my $c (['/proxy/projects/a/dashboards/dl/datasources/prom-a',
	    'a project datasource is not the dashboard\'s'],
	    ['/proxy/projects/a/dashboards/nope/datasources/local-prom',
	    'an unknown dashboard'],
	    ['/proxy/projects/b/dashboards/dl/datasources/local-prom',
	    'the dashboard is not in another project']) {
		my ($base, $name) = @$c;
		$r = $t->request(GET => "$base/api/v1/query?query=up",
		    user => $base =~ m{/b/} ? 'bob' : 'alice');
		is($r->{status}, 404, "$name: 404") or diag $r->{content};
	}
	$r = $t->request(GET => "$LOCAL/api/v1/status/config", user => 'alice');
	is($r->{status}, 403, 'a dashboard\'s datasource keeps its allowedEndpoints');
	is(eval { $t->json($r)->{code} }, 'endpoint_not_allowed',
	    'endpoint_not_allowed');
	$t->psql(q{UPDATE dashboard SET deleted_at = now(), deleted_by = 'test' WHERE name = 'dl'});
	$r = $t->request(POST => "$LOCAL/api/v1/query_range", user => 'alice',
	    body => $form, content_type => 'application/x-www-form-urlencoded');
	is($r->{status}, 404, 'a dashboard in the trash proxies nothing');
	$t->psql(q{UPDATE dashboard SET deleted_at = NULL, deleted_by = NULL WHERE name = 'dl'});
	$r = $t->request(GET => '/proxy/globaldatasources/prom/api/v1/query');
	is($r->{status}, 401, 'no identity: 401');
	$r = $t->request(GET => '/proxy/globaldatasources/dashcgi/api/v1/nothing',
	    user => 'bob');
	is($r->{status}, 404, "an endpoint dashcgi's own datasource lacks: 404");
	$r = $t->request(GET => '/proxy/globaldatasources/dashcgi/api/v1/labels',
	    user => 'bob');
	is($r->{status}, 200, "dashcgi's own datasource is still dashcgi's")
	    and like($r->{content}, qr/^\{"status":"success"/, 'its envelope');
};

subtest 'what nginx sends upstream' => sub {
	my $r = $t->request(POST => '/proxy/globaldatasources/echo/api/v1/query_range?x=1',
	    user => 'alice', body => 'query=a%20b&step=1',
	    headers => { Cookie => 'session=secret', 'X-Scope-OrgID' => 'mine' },
	    content_type => 'application/x-www-form-urlencoded');
	is($r->{status}, 200, 'no allowedEndpoints: any path') or diag $r->{content};
	my $req = $r->{content} // '';
	like($req, qr{^POST /base/api/v1/query_range\?x=1 HTTP/1\.[01]\r\n},
	    'method, the url\'s path, the rest of the path and the query');
	like($req, qr{\r\n\r\nquery=a%20b&step=1\z}, 'the form body, unchanged');
	like($req, qr{^Authorization: Bearer ds-token\r$}mi,
	    'the datasource\'s Authorization, not the caller\'s');
	unlike($req, qr{Basic }, 'no trace of the caller\'s password');
	like($req, qr{^X-Scope-OrgID: tenant-1\r$}mi, 'X-Scope-OrgID set by the datasource');
	unlike($req, qr{mine|session=secret}, 'the caller\'s cookie and tenant are dropped');
	is($t->header($r, 'Set-Cookie'), undef, 'the upstream cannot set cookies here');
	unlike($r->{content}, qr/"user"/, 'nor redirect nginx (X-Accel-Redirect ignored)');

	$r = $t->request(GET => '/proxy/globaldatasources/odd/x', user => 'alice');
	is($r->{status}, 400, 'a header nginx cannot set: 400');
	like(eval { $t->json($r)->{message} } // '',
	    qr/^spec\.plugin\.spec\.proxy\.spec\.headers\.X-Other: /,
	    'naming the header');
};

subtest 'dashboards.local_datasources: false leaves only admins\' datasources' => sub {
	my $mark = $t->log_mark;
	$t->write_config({ dashboards => { local_datasources => JSON::PP::false } });
	ok($t->signal_master('HUP'), 'SIGHUP with local_datasources: false');
	ok($t->wait_log(qr/msg="configuration reloaded"/, 20, $mark),
	    'configuration reloaded');
	my $r;
	for (1 .. 50) {		# until no worker of the old generation answers
		$r = $t->request(POST => "$LOCAL/api/v1/query_range",
		    user => 'alice', body => $form,
		    content_type => 'application/x-www-form-urlencoded');
		last if $r->{status} == 404;
		select(undef, undef, undef, 0.1);
	}
	is($r->{status}, 404, 'a dashboard\'s own datasource: 404');
	like(eval { $t->json($r)->{message} } // '',
	    qr/dashboards\.local_datasources is false/, 'naming the key');
	is($t->header($r, 'X-Accel-Redirect'), undef, 'nothing handed to nginx');
	$r = $t->request(POST => '/proxy/projects/a/datasources/prom-a/api/v1/query_range',
	    user => 'alice', body => $form,
	    content_type => 'application/x-www-form-urlencoded');
	is($r->{status}, 200, 'a project datasource is still proxied')
	    or diag $r->{content};
};

$t->stop_spawned($echo, 5);
$t->stop_spawned($prom, 10);
done_testing();
