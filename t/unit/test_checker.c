/*
 * test_checker.c -- the pure parts of the uptime checker (checker.c):
 * the address guard over IPv4, IPv6 and IPv4 inside IPv6, and status
 * patterns.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "checker.h"
#include "tap.h"

static int
blocked(const char *a)
{
	struct sockaddr_in	s4;
	struct sockaddr_in6	s6;

	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, a, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return check_addr_blocked((struct sockaddr *)&s4);
	}
	if (inet_pton(AF_INET6, a, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		return check_addr_blocked((struct sockaddr *)&s6);
	}
	return -1;
}

int
main(void)
{
	static const char *const no[] = { "127.0.0.1", "127.255.0.9",
	    "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
	    "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
	    "239.1.2.3", "240.0.0.1", "255.255.255.255", "192.0.0.8",
	    "198.18.0.1", "::", "::1", "fe80::1", "fc00::1", "fd12:3456::1",
	    "ff02::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3",
	    "64:ff9b::a9fe:a9fe", "::127.0.0.1", "2001:db8::1", "fec0::1" };
	static const char *const yes[] = { "1.1.1.1", "8.8.8.8",
	    "172.32.0.1", "172.15.255.255", "100.128.0.1", "192.169.0.1",
	    "93.184.216.34", "2606:4700:4700::1111", "2a00:1450::1",
	    "::ffff:8.8.8.8", "64:ff9b::808:808" };
	size_t	i;

	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ok(blocked(no[i]) == 1, "%s is blocked", no[i]);
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ok(blocked(yes[i]) == 0, "%s may be checked", yes[i]);

	ok(check_status_match("2xx", 200), "200 is 2xx");
	ok(check_status_match("2xx", 299), "299 is 2xx");
	ok(!check_status_match("2xx", 301), "301 is not 2xx");
	ok(check_status_match("2xx,301", 301), "301 in 2xx,301");
	ok(!check_status_match("2xx,301", 302), "302 not in 2xx,301");
	ok(check_status_match("404", 404), "an exact code");
	ok(!check_status_match("2xx", 0), "no response matches nothing");
	ok(!check_status_match("x00", 200), "x is no wildcard in the first place");
	ok(check_status_match("5xx", 503), "5xx");
	return done_testing();
}
