#!/usr/bin/perl
# A notification is sent with its channel's stored headers and, when
# the channel has a secret, X-Dashcgi-Signature: sha256=<HMAC-SHA256 of
# the body with the secret> (migration 0021).  The secret is never sent
# itself; the deliverer's own headers are not overridden; a channel
# without a secret sends no signature.  hmac_sha256() matches RFC 4231.
use strict;
use warnings;
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use JSON::PP;
use Time::HiRes qw(sleep time);
use DashTest;
use DashTest::Fixtures;

my $t = DashTest->new(workers => 1, config => { hub => { evaluators => 1,
    interval => '1s', notify_timeout => '2s' } });
my $dir = $t->tmpdir;
$t->spawn([ $^X, $t->srcdir . '/t/lib/hub-receiver.pl', "$dir/rx.port", "$dir/rx.log" ]);
my $end = time + 10;
sleep 0.1 while !-s "$dir/rx.port" && time < $end;
open(my $pf, '<', "$dir/rx.port") or BAIL_OUT('the receiver did not start');
chomp(my $port = <$pf>);
my $U = "http://127.0.0.1:$port";
my $P = '/api/v1/projects/shop';
$t->psql(project_sql('shop', carol => 'admin'));

subtest 'hmac_sha256() is RFC 4231 HMAC-SHA256' => sub {
	is($t->psql("SELECT encode(hmac_sha256('Jefe'::bytea, "
	    . "'what do ya want for nothing?'::bytea), 'hex')"),
	    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
	    'test case 2');
	# Test case 6: a 131-byte key (longer than the block) is hashed first.
	is($t->psql("SELECT encode(hmac_sha256(decode(repeat('aa', 131), 'hex'), "
	    . "'Test Using Larger Than Block-Size Key - Hash Key First'::bytea), 'hex')"),
	    '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
	    'test case 6');
};

my $ch = sub {
	my ($name, %spec) = @_;
	return $t->request(POST => "$P/channels", user => 'carol', json => {
	    kind => 'NotificationChannel', metadata => { name => $name },
	    spec => { type => 'webhook', url => "$U/ok/$name", allIncidents => JSON::PP::true,
	    %spec } });
};
is($ch->('signed', secret => 's3cr3t', headers => { 'X-Team' => 'ops',
    'Authorization' => 'Bearer t0k', 'Idempotency-Key' => 'forged',
    'Content-Type' => 'text/plain' })->{status}, 200, 'a channel with headers and a secret');
is($ch->('plain')->{status}, 200, 'a channel with neither');

my $r = $t->request(POST => "$P/incidents", user => 'carol',
    json => { title => 'Checkout down', severity => 'high', dedupKey => 'co' });
is($r->{status}, 201, 'an incident opens') or diag $r->{content};

sub rx {
	open(my $fh, '<', "$dir/rx.log") or return ();
	return map { decode_json($_) } grep { /\S/ } <$fh>;
}
$end = time + 20;
sleep 0.2 while (grep { $_->{path} =~ m{^/ok/} } rx()) < 2 && time < $end;
my %got = map { ($_->{path} =~ m{^/ok/(\w+)})[0] => $_ } rx();

subtest 'the signed channel: stored headers and the body signed with its secret' => sub {
	my $s = $got{signed} or return fail('no request reached /ok/signed');
	is($s->{headers}{'x-team'}, 'ops', 'a stored header is sent');
	is($s->{headers}{authorization}, 'Bearer t0k', 'another');
	is($s->{headers}{'x-dashcgi-signature'}, 'sha256=' . hmac_sha256_hex($s->{body}, 's3cr3t'),
	    'X-Dashcgi-Signature is the HMAC-SHA256 of the body with the secret');
	my $row = $t->psql("SELECT id FROM alert_notification WHERE channel = 'signed'");
	is($s->{key}, $row, 'Idempotency-Key is still the row id, not the stored one');
	is($s->{headers}{'content-type'}, 'application/json', 'Content-Type is still JSON');
	unlike(join(' ', values %{ $s->{headers} }), qr/s3cr3t/, 'the secret itself is not sent');
	is(decode_json($s->{body})->{incident}{title}, 'Checkout down', 'the body is the webhook body');
};

subtest 'the plain channel: no stored headers, no signature' => sub {
	my $s = $got{plain} or return fail('no request reached /ok/plain');
	ok(!exists $s->{headers}{'x-dashcgi-signature'}, 'no signature without a secret');
	ok(!exists $s->{headers}{'x-team'}, 'no other channel\'s header');
};

subtest 'a change through the hub\'s route is seen by the monitors\' lock' => sub {
	my $before = json_body($t->request(GET => "$P/channels/plain", user => 'carol'));
	is($t->request(PUT => "$P/hub-channels/plain", user => 'carol',
	    json => { type => 'webhook', url => "$U/ok/plain2" })->{status}, 200, 'replaced via /hub-channels');
	my $r = $t->request(PUT => "$P/channels/plain", user => 'carol',
	    headers => { 'If-Match' => qq{"$before->{metadata}{version}"} }, json => {
	    kind => 'NotificationChannel', metadata => { name => 'plain' },
	    spec => { type => 'webhook', url => "$U/ok/plain3" } });
	is($r->{status}, 412, 'a PUT with the version read before that change: 412') or diag $r->{content};
};

subtest 'the secret stays write-only' => sub {
	my $j = json_body($t->request(GET => "$P/channels/signed", user => 'carol'));
	ok(!exists $j->{spec}{secret}, 'no secret in the document');
	ok($j->{spec}{secretSet}, 'secretSet');
	is($j->{spec}{headers}{'X-Team'}, undef, 'header values are not returned');
};

done_testing;
