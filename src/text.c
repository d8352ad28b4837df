/*
 * text.c -- RFC 3339 and UTF-8 helpers (text.h).
 */
#include <string.h>

#include "text.h"

/* n digits at *s into *out, advancing *s; -1 if one is not a digit. */
static int
digits(const char **s, int n, int *out)
{
	int	 v = 0;

	for (; n > 0; n--, (*s)++) {
		if (**s < '0' || **s > '9')
			return -1;
		v = v * 10 + (**s - '0');
	}
	*out = v;
	return 0;
}

int
text_rfc3339(const char *s)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	int	 y, mo, d, h, mi, sec, oh, om, leap, nfrac = 0;

	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) ||
	    *s++ != '-' || digits(&s, 2, &d) || (*s != 'T' && *s != 't'))
		return 0;
	s++;
	if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi) ||
	    *s++ != ':' || digits(&s, 2, &sec))
		return 0;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++)
			nfrac++;
		if (nfrac == 0 || nfrac > 9)
			return 0;
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		s++;
		if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om) ||
		    oh > 23 || om > 59)
			return 0;
	} else
		return 0;
	if (*s != '\0' || y < 1 || mo < 1 || mo > 12 || h > 23 || mi > 59 ||
	    sec > 60)
		return 0;
	leap = mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
	return d >= 1 && d <= mdays[mo - 1] + leap;
}

size_t
text_utf8_chars(const char *s, size_t len)
{
	size_t	 i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

size_t
text_utf8_trim(const char *s, size_t n)
{
	size_t	 i = n, need;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return 0;
	need = ((unsigned char)s[i - 1] & 0xe0) == 0xc0 ? 2 :
	    ((unsigned char)s[i - 1] & 0xf0) == 0xe0 ? 3 :
	    ((unsigned char)s[i - 1] & 0xf8) == 0xf0 ? 4 : 1;
	return n - (i - 1) >= need ? n : i - 1;
}
