#!/usr/bin/perl
# The FastCGI socket has a read deadline (read_timeout): peers that
# connect and send half a request cannot hold the workers.  Before,
# four such connections froze four workers until the peers went away.
use strict;
use warnings;
use Test::More;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(sleep time);
use DashTest;

my $t = DashTest->new(workers => 2, config => { read_timeout => '1s' });
is(scalar(my @w = $t->wait_workers(2, 10)), 2, 'two workers');

# Half a request: a BEGIN_REQUEST record header promising 8 bytes of
# content, then only 3 of them.
my @stalled;
for (1 .. 4) {
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $t->socket_path)
	    or die "connect: $!";
	syswrite($s, pack('CCnnCx', 1, 1, 1, 8, 0) . "\0\1\0");
	push @stalled, $s;
}
pass('four peers stalled mid-request');

my $t0 = time;
my $r = $t->request(GET => '/live', timeout => 20);
my $dt = time - $t0;
is($r->{status}, 200, 'a request through nginx is still answered');
cmp_ok($dt, '<', 6, sprintf('within a few read_timeouts (%.2f s)', $dt));

my $ok = 0;
$ok += $t->request(GET => '/live', timeout => 10)->{status} == 200 for 1 .. 20;
is($ok, 20, 'and every request after it, while the peers stay connected');
close $_ for @stalled;

# Idle workers wake up every read_timeout (accept returns EAGAIN): that
# is a tick, not an error.
sleep 2.5;
unlike($t->log, qr/FastCGI accept failed/, 'idle ticks are not logged as failures');
is($t->stop_dashcgi, 0, 'SIGTERM: master exits 0');
done_testing();
