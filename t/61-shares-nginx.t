#!/usr/bin/perl
# Share links through the shipped nginx snippet, from real source
# addresses: the CIDR limit is tested against REMOTE_ADDR as nginx saw
# it (127.0.0.2 inside, 127.0.0.3 outside), a refused address gets
# exactly the answer of an unknown token while the audit row says
# "cidr", IPv6 networks are accepted and matched (nginx on [::1]), and
# the snippet's limit_req answers 429 past 5r/s with a burst of 10 per
# address and 20r/s with a burst of 100 per /24 (/64).
use strict;
use warnings;
use Test::More;
use IO::Socket::IP;
use DashTest;

# ::1 usable?  (Containers may run without IPv6.)
my $HAVE6 = do {
	my $s = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0,
	    Proto => 'tcp', Listen => 1);
	$s ? 1 : 0;
};
my $t = DashTest->new(workers => 2, listen6 => $HAVE6);

$t->psql(<<'SQL');
INSERT INTO project (name, created_by, updated_by) VALUES ('p1', 't', 't');
INSERT INTO project_member (project, user_name, role, created_by, updated_by)
    VALUES ('p1', 'carol', 'editor', 't', 't');
SQL

my $P = '/api/v1/projects/p1/dashboards';
my $NOT_FOUND = '{"status":404,"code":"not_found","message":"share link not found"}';
my $UNKNOWN = 'dsh_' . ('A' x 43);

sub body { my $j = eval { JSON::PP->new->decode($_[0]{content} // '') }; $j }

my $r = $t->request(POST => $P, user => 'carol', json => { kind => 'Dashboard',
    metadata => { name => 'd1' }, spec => { display => { name => 'D one' },
    panels => {}, layouts => [] } });
is($r->{status}, 200, 'dashboard d1 created') or diag $r->{content};

sub link_with {
	my ($cidrs, $name) = @_;
	my $r = $t->request(POST => "$P/d1/shares", user => 'carol',
	    json => { allowedCidrs => $cidrs });
	is($r->{status}, 201, "$name: 201") or diag $r->{content};
	return body($r) // {};
}

# GET the shared link; from => a source address, or '::1' for IPv6.
sub shared {
	my ($token, $from) = @_;
	return $t->request(GET => "/api/v1/shared/$token",
	    $from eq '::1' ? (ipv6 => 1) : (local_address => $from));
}

sub audit_of {
	my ($r) = @_;
	my $id = $t->header($r, 'X-Request-Id') // '';
	my $row = $t->psql("SELECT json_build_object('action', action, 'resource', "
	    . "resource, 'client_ip', host(client_ip), 'reason', details->>'reason') "
	    . "FROM audit_log WHERE request_id = '$id'");
	return $row eq '' ? {} : JSON::PP->new->decode($row);
}

# Everything a client sees but the per-response Date and X-Request-Id.
sub visible {
	my ($r) = @_;
	my %h = %{ $r->{headers} };
	delete @h{qw(date x-request-id)};
	return { status => $r->{status}, content => $r->{content}, headers => \%h };
}

sub served { is($_[0]{status}, 200, "$_[1]: 200") or diag $_[0]{content} }

sub refused {
	my ($r, $reason, $name) = @_;
	is($r->{status}, 404, "$name: 404");
	is($r->{content}, $NOT_FOUND, "$name: the share-link 404 body");
	is(audit_of($r)->{reason}, $reason, "$name: audited as $reason");
}

subtest 'CIDR: 127.0.0.2 inside gets 200, 127.0.0.3 outside the unknown-token 404' => sub {
	my $j = link_with([ '127.0.0.2/32', '10.0.0.0/8' ], 'link for 127.0.0.2');
	my $in = shared($j->{token}, '127.0.0.2');
	served($in, 'from 127.0.0.2');
	is(audit_of($in)->{client_ip}, '127.0.0.2', 'audited with 127.0.0.2');

	my $out = shared($j->{token}, '127.0.0.3');
	my $unknown = shared($UNKNOWN, '127.0.0.3');
	is($out->{status}, 404, 'from 127.0.0.3: 404');
	is_deeply(visible($out), visible($unknown),
	    'status, body and headers identical to an unknown token\'s')
	    or diag explain [ visible($out), visible($unknown) ];
	is($t->header($out, 'Cache-Control'), 'no-store', 'no-store on the refusal');
	my $a = audit_of($out);
	is($a->{reason}, 'cidr', 'the audit row says cidr');
	is($a->{client_ip}, '127.0.0.3', 'with the refused address');
	is($a->{resource}, $j->{id}, 'and the link');
	is(audit_of($unknown)->{reason}, 'unknown', 'the unknown token: unknown');
	is($t->psql("SELECT use_count FROM share_token WHERE id = '$j->{id}'"), 1,
	    'the refused address spent no use');

	my $any = link_with([], 'link for any address');
	served(shared($any->{token}, '127.0.0.3'), 'no CIDRs, from 127.0.0.3');
};

SKIP: {
	skip 'no IPv6 loopback (::1) on this machine: nginx cannot listen '
	    . 'on [::1]', 1 unless $HAVE6;
	subtest 'IPv6: networks accepted and matched, families never mix' => sub {
		my $j = link_with([ '::1/128' ], 'link for ::1');
		my $r = shared($j->{token}, '::1');
		served($r, 'from ::1');
		is(audit_of($r)->{client_ip}, '::1', 'audited with ::1');
		refused(shared($j->{token}, '127.0.0.2'), 'cidr',
		    'the ::1 link from 127.0.0.2');

		$j = link_with([ '2001:db8::/32' ], 'link for 2001:db8::/32');
		refused(shared($j->{token}, '::1'), 'cidr',
		    'the 2001:db8::/32 link from ::1');

		$j = link_with([ '::/0' ], 'link for ::/0');
		served(shared($j->{token}, '::1'), '::/0 from ::1');
		refused(shared($j->{token}, '127.0.0.2'), 'cidr',
		    '::/0 from 127.0.0.2 (an IPv6 network holds no IPv4 client)');

		$j = link_with([ '127.0.0.0/8', '::1/128' ], 'link for both');
		served(shared($j->{token}, '::1'), 'both, from ::1');
		served(shared($j->{token}, '127.0.0.2'), 'both, from 127.0.0.2');
		refused(shared($UNKNOWN, '::1'), 'unknown', 'unknown token from ::1');
	};
}

subtest 'limit_req: past 5r/s with a burst of 10, nginx answers 429' => sub {
	my $from = '127.0.0.9';
	# Misses of an unknown token are counted per network and minute
	# (share_miss), not audited one by one.
	my $MISSES = "SELECT coalesce(sum(misses), 0) FROM share_miss "
	    . "WHERE network = '127.0.0.0/24'";
	my $mark = $t->psql($MISSES);
	my (%n, $passed);
	my $t0 = Time::HiRes::time();
	for (1 .. 40) {
		my $r = $t->request(GET => "/api/v1/shared/$UNKNOWN",
		    local_address => $from, timeout => 5);
		$n{ $r->{status} }++;
	}
	my $took = Time::HiRes::time() - $t0;
	$passed = $n{404} // 0;
	cmp_ok($n{429} // 0, '>=', 1, sprintf('of 40 requests in %.2fs, '
	    . 'some got 429', $took))
	    or diag explain \%n;
	cmp_ok($passed, '>=', 10, 'the burst of 10 passed (as 404s)');
	cmp_ok($passed, '<=', 11 + int($took * 5) + 1,
	    'no more than burst + rate passed');
	is(($n{404} // 0) + ($n{429} // 0), 40, 'nothing but 404 and 429');
	is($t->psql($MISSES) - $mark, $passed,
	    'dashcgi saw (and counted) only those nginx let through');
	is(shared($UNKNOWN, '127.0.0.10')->{status}, 404,
	    'another address is not limited');
};

subtest 'no token in nginx\'s logs' => sub {
	# The requests above: views, refusals, 429s.  The harness logs at
	# http level with the combined format and at error level info, so
	# only the snippet's share location can keep the tokens out.
	my $tmp = $t->tmpdir;
	my $access = DashTest::_slurp("$tmp/nginx-access.log");
	my $error = DashTest::_slurp("$tmp/nginx-error.log");
	ok(length $access, 'the access log has lines');
	unlike($access, qr/dsh_/, 'the access log holds no token');
	unlike($error, qr/dsh_/, 'the error log holds no token');
};

subtest 'limit_req per network: the addresses of one /24 share 20r/s, burst 100' => sub {
	my (%n, $i);
	my $t0 = Time::HiRes::time();
	# 40 addresses of 127.0.30.0/24, 10 requests each: no address
	# passes its own limit (burst 10), the network passes its own.
	for my $round (1 .. 10) {
		for my $host (1 .. 40) {
			my $r = $t->request(GET => "/api/v1/shared/$UNKNOWN",
			    local_address => "127.0.30.$host", timeout => 5);
			$n{ $r->{status} }++;
		}
	}
	my $took = Time::HiRes::time() - $t0;
	my $passed = $n{404} // 0;
	is(($n{404} // 0) + ($n{429} // 0), 400, 'nothing but 404 and 429')
	    or diag explain \%n;
	cmp_ok($passed, '<=', 101 + int($took * 20) + 1, sprintf('of 400 requests '
	    . 'in %.2fs from 40 addresses, no more than burst + rate passed '
	    . '(%d)', $took, $passed));
	is(shared($UNKNOWN, '127.0.31.1')->{status}, 404,
	    'another network is not limited');
};

subtest "the snippet's network key: /24 and /64 whatever the address's form" => sub {
	use Socket qw(AF_INET6 inet_pton inet_ntop);
	my $conf = do {
		local $/;
		open(my $fh, '<', $t->srcdir . '/nginx/dashcgi-http.conf') or die $!;
		<$fh>;
	};
	my ($map) = $conf =~ /^map \$remote_addr \$dashcgi_shared_net \{\n(.*?)^\}/ms;
	ok($map, 'the map is in dashcgi-http.conf') or return;
	my @rules = map { [ /^\s*"~(.*)"\s+(\S+);/ ] } grep { /^\s*"~/ } split /\n/, $map;
	cmp_ok(scalar @rules, '>=', 10, scalar(@rules) . ' rules');
	my $key = sub {	# as nginx's map computes it (first match wins)
		my ($a) = @_;
		for my $r (@rules) {
			my @c = $a =~ /$r->[0]/ or next;
			(my $v = $r->[1]) =~ s/\$(\d)/$c[$1 - 1]/g;
			return $v;
		}
		return $a;
	};
	is($key->('10.1.2.3'), '10.1.2', 'IPv4: the /24');
	is($key->('::ffff:10.1.2.3'), '10.1.2', 'IPv4-mapped: the same /24');
	srand(61);
	my ($bad, $n) = (0, 0);
	for (1 .. 3000) {
		# Groups zero half the time: every place "::" can fall.
		my @g = map { rand() < 0.5 ? 0 : int(rand(65536)) } 1 .. 8;
		my $text = inet_ntop(AF_INET6, pack('n8', @g));
		next if $text =~ /\./;	# IPv4-mapped and -compatible forms
		$n++;
		my $want = join(':', map { sprintf('%x', $_) } @g[0 .. 3]);
		my $got = $key->($text);
		next if $got eq $want;
		diag("$text: key $got, want $want") if $bad++ < 5;
	}
	is($bad, 0, "$n IPv6 addresses: the key is their /64");
};

is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
done_testing;
