#!/usr/bin/perl
# The shipped nginx snippet against dashcgi's defaults: a body just over
# the default max_body (4MiB) reaches dashcgi, whose 413 is JSON a
# client can read (nginx's own limit used to equal max_body, so clients
# got nginx's HTML page); slow clients are nginx's to drop.
use strict;
use warnings;
use Test::More;
use DashTest;

my $t = DashTest->new(auth => 0);

my $body = '{"pad":"' . ('x' x (4 * 1024 * 1024 + 100)) . '"}';
my $r = $t->request(POST => '/api/validate/dashboards', user => 'alice',
    body => $body, timeout => 30);
is($r->{status}, 413, '4 MiB + 100 bytes: 413');
like($r->{headers}{'content-type'} // '', qr{^application/json}, 'as JSON');
my $j = eval { $t->json($r) } || {};
is($j->{code}, 'payload_too_large', 'from dashcgi: code payload_too_large');
like($j->{message} // '', qr/max_body/, 'naming the limit');

my $snippet = DashTest::_slurp($t->srcdir . '/nginx/dashcgi.conf');
like($snippet, qr/^client_header_timeout\s+\d+s;/m, 'the snippet sets client_header_timeout');
like($snippet, qr/^client_body_timeout\s+\d+s;/m, 'and client_body_timeout');
is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
done_testing();
