#!/usr/bin/perl
# monitor-target.pl -- the HTTP target the uptime tests (t/8*-monitors*.t)
# and the demo check: one small loopback server whose answers the path
# chooses, so every error kind a checker records can be provoked.
#
#   monitor-target.pl PORTFILE [DIR]
#
# Listens on 127.0.0.1 (a free port, written to PORTFILE once
# listening).  One process, one select() loop: a delayed answer waits
# in a timer, not in a process, so a loaded machine or a fleet of
# monitors does not make a backlog.  Answers:
#   /?status=N&delay=MS&body=TEXT   status N (200) after MS ms (0) with TEXT
#   /close                          closes the connection without answering
#   /redirect?to=URL                302 to URL
#   /file/NAME                      reads DIR/NAME, "STATUS DELAY BODY", on
#                                   each request (a test rewrites it to flip
#                                   the target up and down); absent: 200
#   /flap?period=S                  up for S seconds, down (503) for S seconds
#   /flap?up=U&down=D               up for U seconds, then down (503) for D
#   /random?min=MS&max=MS           200 after a delay drawn uniformly
# Every request is appended to DIR/requests.log as "epoch_ms path".
#
# Core Perl only.  Exits on SIGTERM.
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

my ($portfile, $dir) = @ARGV;
die "usage: $0 PORTFILE [DIR]\n" unless defined $portfile;
$dir //= '.';

my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 1024, ReuseAddr => 1, Proto => 'tcp') or die "listen: $!\n";
$srv->blocking(0);
{
	open(my $fh, '>', "$portfile.tmp") or die "$portfile: $!\n";
	print $fh $srv->sockport, "\n";
	close $fh;
	rename "$portfile.tmp", $portfile or die "$portfile: $!\n";
}
$SIG{TERM} = sub { exit 0 };
$SIG{PIPE} = 'IGNORE';

sub unescape {
	my ($s) = @_;
	$s =~ tr/+/ /;
	$s =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge;
	return $s;
}

# The answer to a request line's target: (delay ms, bytes), or () to
# close without answering.
sub answer {
	my ($target) = @_;
	if (open(my $log, '>>', "$dir/requests.log")) {
		printf $log "%d %s\n", time * 1000, $target;
		close $log;
	}
	my ($path, $q) = split /\?/, $target, 2;
	my %q = map { my ($k, $v) = split /=/, $_, 2; ($k => unescape($v // '')) }
	    split /&/, $q // '';
	my ($status, $delay, $body, @hdr) = (200, 0, "ok\n");
	if ($path eq '/close') {
		return ();
	} elsif ($path eq '/redirect') {
		($status, $body) = (302, '');
		push @hdr, "Location: $q{to}";
	} elsif ($path =~ m{^/file/([\w.-]+)$}) {
		if (open(my $fh, '<', "$dir/$1")) {
			my $t = <$fh> // '';
			chomp $t;
			($status, $delay, $body) = split / /, $t, 3;
			$delay //= 0;
			$body //= '';
		}
	} elsif ($path eq '/random') {
		$delay = ($q{min} // 0) + rand(($q{max} // 100) - ($q{min} // 0));
	} elsif ($path eq '/flap' && $q{up} && $q{down}) {
		$status = (time % ($q{up} + $q{down})) >= $q{up} ? 503 : 200;
	} elsif ($path eq '/flap') {
		my $p = $q{period} || 10;
		$status = int(time / $p) % 2 ? 503 : 200;
	} else {
		$status = $q{status} if defined $q{status};
		$delay = $q{delay} if defined $q{delay};
		$body = $q{body} if defined $q{body};
	}
	return ($delay, "HTTP/1.1 $status X\r\nContent-Length: " . length($body) .
	    "\r\nConnection: close\r\n" . join('', map { "$_\r\n" } @hdr) .
	    "\r\n$body");
}

my $sel = IO::Select->new($srv);
my %conn;	# fileno -> { sock, in, due, out }
for (;;) {
	my $now = time;
	my $wait = 1;
	for my $c (values %conn) {
		next unless defined $c->{due};
		my $w = $c->{due} - $now;
		$wait = $w if $w < $wait;
	}
	$wait = 0 if $wait < 0;
	for my $s ($sel->can_read($wait)) {
		if ($s == $srv) {
			while (my $n = $srv->accept) {
				$n->blocking(0);
				$conn{ fileno $n } = { sock => $n, in => '' };
				$sel->add($n);
			}
			next;
		}
		my $c = $conn{ fileno $s } or next;
		my $got = sysread($s, my $buf, 65536);
		if (!$got) {
			$sel->remove($s);
			delete $conn{ fileno $s };
			close $s;
			next;
		}
		$c->{in} .= $buf;
		next if defined $c->{due} || $c->{in} !~ /\r\n\r\n/;
		my (undef, $target) = split / /, $c->{in};
		my ($delay, $out) = answer($target // '/');
		if (!defined $out) {
			$sel->remove($s);
			delete $conn{ fileno $s };
			close $s;
			next;
		}
		$c->{due} = time + $delay / 1000;
		$c->{out} = $out;
	}
	$now = time;
	for my $fd (keys %conn) {
		my $c = $conn{$fd};
		next unless defined $c->{due} && $c->{due} <= $now;
		$c->{sock}->blocking(1);
		syswrite($c->{sock}, $c->{out});
		$sel->remove($c->{sock});
		close $c->{sock};
		delete $conn{$fd};
	}
}
