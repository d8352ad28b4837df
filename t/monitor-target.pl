#!/usr/bin/perl
# monitor-target.pl -- the HTTP target the uptime tests (t/8*-monitors*.t)
# and the demo check: one small loopback server whose answers the path
# chooses, so every error kind a checker records can be provoked.
#
#   monitor-target.pl PORTFILE [DIR]
#
# Listens on 127.0.0.1 (a free port, written to PORTFILE once
# listening), one forked child per connection.  Answers:
#   /?status=N&delay=MS&body=TEXT   status N (200) after MS ms (0) with TEXT
#   /close                          closes the connection without answering
#   /redirect?to=URL                302 to URL
#   /file/NAME                      reads DIR/NAME, "STATUS DELAY BODY", on
#                                   each request (a test rewrites it to flip
#                                   the target up and down); absent: 200
#   /flap?period=S                  up for S seconds, down (503) for S seconds
# Every request is appended to DIR/requests.log as "epoch_ms path".
#
# Core Perl only.  Exits on SIGTERM (DashTest's spawn stops its whole
# process group, the children with it).
use strict;
use warnings;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

my ($portfile, $dir) = @ARGV;
die "usage: $0 PORTFILE [DIR]\n" unless defined $portfile;
$dir //= '.';

my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 128, ReuseAddr => 1, Proto => 'tcp') or die "listen: $!\n";
{
	open(my $fh, '>', "$portfile.tmp") or die "$portfile: $!\n";
	print $fh $srv->sockport, "\n";
	close $fh;
	rename "$portfile.tmp", $portfile or die "$portfile: $!\n";
}
$SIG{CHLD} = sub { 1 while waitpid(-1, WNOHANG) > 0 };
$SIG{TERM} = sub { exit 0 };

sub unescape {
	my ($s) = @_;
	$s =~ tr/+/ /;
	$s =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge;
	return $s;
}

sub answer {
	my ($c) = @_;
	local $/ = "\r\n";
	my $line = <$c>;
	return unless defined $line;
	my (undef, $target) = split / /, $line;
	while (defined(my $h = <$c>)) {
		last if $h eq "\r\n";
	}
	$target //= '/';
	if (open(my $log, '>>', "$dir/requests.log")) {
		printf $log "%d %s\n", time * 1000, $target;
		close $log;
	}
	my ($path, $q) = split /\?/, $target, 2;
	my %q = map { my ($k, $v) = split /=/, $_, 2; ($k => unescape($v // '')) }
	    split /&/, $q // '';
	my ($status, $delay, $body, @hdr) = (200, 0, "ok\n");
	if ($path eq '/close') {
		return;
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
	} elsif ($path eq '/flap') {
		my $p = $q{period} || 10;
		$status = int(time / $p) % 2 ? 503 : 200;
	} else {
		$status = $q{status} if defined $q{status};
		$delay = $q{delay} if defined $q{delay};
		$body = $q{body} if defined $q{body};
	}
	sleep($delay / 1000) if $delay;
	print $c "HTTP/1.1 $status X\r\nContent-Length: " . length($body) .
	    "\r\nConnection: close\r\n" . join('', map { "$_\r\n" } @hdr) .
	    "\r\n$body";
}

for (;;) {
	my $c = $srv->accept or next;
	my $pid = fork;
	if (!defined $pid) {
		close $c;
		next;
	}
	if ($pid == 0) {
		$SIG{TERM} = 'DEFAULT';
		close $srv;
		answer($c);
		close $c;
		exit 0;
	}
	close $c;
}
