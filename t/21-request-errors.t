#!/usr/bin/perl
# Every refusal of request handling, through nginx, with the one error
# body shape: 401, 413, 400 (malformed, with offset; too deep), 415,
# 404, 405 with Allow.
use strict;
use warnings;
use Test::More;
use DashTest;

# auth => 0: no auth_basic in nginx, so a request without a user reaches
# dashcgi and dashcgi itself answers 401.  max_body 1KiB (nginx allows
# 4m) so that dashcgi, not nginx, answers 413.
my $t = DashTest->new(auth => 0, config => { max_body => '1KiB' });

my $VALIDATE = '/api/validate/dashboards';
my $DASH = '{"kind":"Dashboard","metadata":{"name":"d1","project":"p"},'
    . '"spec":{"display":{"name":"x"},"panels":{},"layouts":[]}}';

# The contract for every error: status, JSON body {status, error,
# message}, X-Request-Id.
sub is_error {
	my ($r, $status, $code, $name) = @_;
	my $ok = 1;
	is($r->{status}, $status, "$name: $status") or $ok = 0;
	like($t->header($r, 'Content-Type') // '', qr{^application/json},
	    "$name: JSON") or $ok = 0;
	my $j = length($r->{content} // '') ? $t->json($r) : undef;
	$j = {} unless ref $j eq 'HASH';
	is($j->{status}, $status, "$name: body status") or $ok = 0;
	is($j->{code}, $code, "$name: error $code") or $ok = 0;
	ok(defined $j->{message} && !ref $j->{message} && length $j->{message},
	    "$name: a message") or $ok = 0;
	ok(length($t->header($r, 'X-Request-Id') // ''), "$name: X-Request-Id")
	    or $ok = 0;
	diag "body: $r->{content}" unless $ok;
	return $j;
}

subtest 'a valid dashboard passes' => sub {
	my $r = $t->request(POST => $VALIDATE, user => 'alice', body => $DASH);
	is($r->{status}, 200, 'answers 200') or diag $r->{content};
	is($r->{content}, '', 'empty body');
	$r = $t->request(POST => $VALIDATE, user => 'alice', body => $DASH,
	    content_type => 'application/json; charset=utf-8');
	is($r->{status}, 200, 'application/json with a charset is JSON');
};

subtest '401 without an identity' => sub {
	is_error($t->request(POST => $VALIDATE, body => $DASH), 401,
	    'unauthorized', 'no user');
	# Identity comes from nginx only, never from a client header.
	is_error($t->request(POST => $VALIDATE, body => $DASH,
	    headers => { 'Remote-User' => 'admin', 'X-Remote-User' => 'admin',
	    'X-Forwarded-User' => 'admin' }), 401, 'unauthorized',
	    'identity headers from the client');
	# Straight over FastCGI, REMOTE_USER present but empty.
	my $r = $t->fcgi_request(POST => $VALIDATE, body => $DASH,
	    params => { REMOTE_USER => '' });
	is($r->{status}, 401, 'empty REMOTE_USER is no identity');
};

subtest '413 over max_body' => sub {
	my $big = $DASH;
	$big =~ s/"name":"x"/'"name":"' . ('x' x 2048) . '"'/e;
	my $j = is_error($t->request(POST => $VALIDATE, user => 'alice', body => $big),
	    413, 'payload_too_large', '2 KiB body, 1 KiB limit');
	my $r = $t->request(POST => $VALIDATE, user => 'alice',
	    body => $DASH . (' ' x (1024 - length $DASH)));
	is($r->{status}, 200, 'exactly max_body is accepted') or diag $r->{content};
};

subtest '400 malformed JSON, with the byte offset' => sub {
	my @off;
	for my $c ([ '{"a":@}', 'early' ],
	    [ '{"kind":"' . ('k' x 200) . '",@}', 'late' ]) {
		my $j = is_error($t->request(POST => $VALIDATE, user => 'alice',
		    body => $c->[0]), 400, 'invalid_json', "error $c->[1]");
		my ($n) = ($j->{message} // '') =~ /offset (\d+)/;
		ok(defined $n, "$c->[1]: message names the offset")
		    or diag $j->{message};
		ok(defined $n && $n <= length $c->[0], "$c->[1]: offset within the body");
		push @off, $n // -1;
	}
	cmp_ok($off[0], '<=', 8, 'an error at byte 5 is reported near 5');
	cmp_ok($off[1], '>=', 200, 'an error at byte 212 is reported near 212');

	is_error($t->request(POST => $VALIDATE, user => 'alice',
	    body => '{"kind":"Dashboard"'), 400, 'invalid_json', 'truncated');
	is_error($t->request(POST => $VALIDATE, user => 'alice',
	    body => "{\"kind\":\"Dash\xff\xfeboard\"}"), 400, 'invalid_json',
	    'invalid UTF-8');
	is_error($t->request(POST => $VALIDATE, user => 'alice', body => ''),
	    400, 'invalid_json', 'empty body');
};

subtest 'nesting: 64 levels parse, 65 are refused' => sub {
	my $deep = sub { ('[' x $_[0]) . (']' x $_[0]) };
	my $j = is_error($t->request(POST => $VALIDATE, user => 'alice',
	    body => $deep->(65)), 400, 'invalid_json', '65 nested arrays');
	like($j->{message} // '', qr/depth|nest/i, 'the message says why');

	# Inside a dashboard: root object + spec + N arrays.
	my $in = sub {
		my $d = $DASH;
		my $x = $deep->($_[0] - 2);
		$d =~ s/"layouts":\[\]/"layouts":[],"x":$x/;
		return $d;
	};
	$j = is_error($t->request(POST => $VALIDATE, user => 'alice',
	    body => $in->(65)), 400, 'invalid_json', 'a dashboard 65 deep');
	like($j->{message} // '', qr/depth|nest/i, 'the message says why');

	for my $body ($deep->(64), $in->(64)) {
		my $r = $t->request(POST => $VALIDATE, user => 'alice', body => $body);
		my $e = length($r->{content} // '') ? $t->json($r) : {};
		$e = {} unless ref $e eq 'HASH';
		ok(!($r->{status} == 400 && ($e->{code} // '') eq 'invalid_json'),
		    '64 deep: the parser accepts it (not invalid_json)')
		    or diag $r->{content};
	}
};

subtest '415 unless the body is JSON' => sub {
	is_error($t->request(POST => $VALIDATE, user => 'alice', body => $DASH,
	    content_type => 'text/plain'), 415, 'unsupported_media_type', 'text/plain');
	is_error($t->request(POST => $VALIDATE, user => 'alice', body => $DASH,
	    content_type => 'application/x-www-form-urlencoded'), 415,
	    'unsupported_media_type', 'a form');
	is_error($t->request(POST => $VALIDATE, user => 'alice', body => $DASH,
	    content_type => ''), 415, 'unsupported_media_type', 'no Content-Type');
};

subtest '404 unknown path' => sub {
	is_error($t->request(GET => '/api/v1/no-such-thing', user => 'alice'),
	    404, 'not_found', 'GET /api/v1/no-such-thing');
	is_error($t->request(GET => '/api/validate/dashboards/extra', user => 'alice'),
	    404, 'not_found', 'a known prefix with more segments');
	my $r = $t->fcgi_request(GET => '/nope');
	is($r->{status}, 404, '404 outside /api/ too (straight FastCGI)');
};

subtest '405 wrong method, with Allow' => sub {
	for my $c ([ DELETE => '/live' ], [ POST => '/ready' ],
	    [ PUT => '/metrics' ], [ POST => '/api/v1/health' ]) {
		my $r = $t->request($c->[0], $c->[1], body => '{}');
		is_error($r, 405, 'method_not_allowed', "$c->[0] $c->[1]");
		my $allow = $t->header($r, 'Allow') // '';
		like($allow, qr/\bGET\b/, "Allow lists GET ($allow)");
		like($allow, qr/\bHEAD\b/, 'and HEAD');
		unlike($allow, qr/\b\Q$c->[0]\E\b/, "but not $c->[0]");
	}
	my $r = $t->request(GET => $VALIDATE, user => 'alice');
	is_error($r, 405, 'method_not_allowed', "GET $VALIDATE");
	like($t->header($r, 'Allow') // '', qr/\bPOST\b/, 'Allow: POST');
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');

done_testing;
