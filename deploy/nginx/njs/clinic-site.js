// /etc/nginx/njs/clinic-site.js: the language of a visitor at /, /en/ or
// /es/, by the app's own rules, so nginx answers the front door itself and it
// works while gunicorn is stopped or restarting. The rules are
// visitor_language() in app/i18n.py: the URL's language, else the `lang`
// cookie, else Werkzeug's LanguageAccept.best_match() on Accept-Language,
// else English. tests/test_deploy.py asks both the app and nginx with many
// cookies and headers and compares the answers.

// app/content.py LANGUAGES, in its order: the first is the default, and it
// wins a tie, as in Werkzeug. (Plain loops: Debian 12's njs 0.7 has no
// for...of, destructuring or spread.)
const LANGUAGES = ['en', 'es'];

function visitorLanguage(r) {
    const prefix = r.uri.split('/')[1];
    if (LANGUAGES.includes(prefix)) {
        return prefix;
    }
    const cookie = rememberedLanguage(r);
    if (LANGUAGES.includes(cookie)) {
        return cookie;
    }
    return bestMatch(r.headersIn['Accept-Language'] || '') || LANGUAGES[0];
}

// The `lang` cookie as the app reads it (Werkzeug's parse_cookie(...).get):
// the name is case-sensitive, the first one counts, a quoted value is
// unquoted. (nginx's $cookie_lang differs on all three.)
function rememberedLanguage(r) {
    const pairs = (r.headersIn.Cookie || '').split(';');
    for (let i = 0; i < pairs.length; i++) {
        const at = pairs[i].indexOf('=');
        if (at > 0 && pairs[i].slice(0, at).trim() === 'lang') {
            return pairs[i].slice(at + 1).trim().replace(/^"(.*)"$/, '$1');
        }
    }
    return '';
}

// Werkzeug's parse_accept_header: {value, quality} per item; an item with an
// invalid or out-of-range q is left out; other parameters stay on the value
// ("es; x=1"), which then matches no language.
function acceptItems(header) {
    const items = [];
    const parts = header.split(',');
    for (let i = 0; i < parts.length; i++) {
        const pieces = parts[i].split(';');
        const names = [pieces[0].trim()];
        if (!names[0]) {
            continue;
        }
        let quality = 1;
        let valid = true;
        for (let j = 1; j < pieces.length; j++) {
            const m = /^[ \t]*([\w!#$%&'*+\-.^`|~]+)=("?)([^"]*)\2[ \t]*$/.exec(pieces[j]);
            if (!m) {
                continue;
            }
            if (m[1].toLowerCase() !== 'q') {
                names.push(m[1].toLowerCase() + '=' + m[3]);
            } else if (/^-?\d+(\.\d+)?$/.test(m[3].trim())) {
                quality = parseFloat(m[3]);
                valid = quality >= 0 && quality <= 1;
            } else {
                valid = false;
            }
        }
        if (valid) {
            items.push({value: names.join('; '), quality: quality});
        }
    }
    return items;
}

// Accept.best_match: each language takes its best item (a named one before
// "*", then the higher quality, then the first); the language whose item has
// the higher quality wins, a named item beats "*", and the earlier language
// wins a tie. Quality 0 means "not this one".
function bestOf(items, matches) {
    let result = null;
    let bestQuality = -1;
    let bestSpecific = -1;
    for (let i = 0; i < LANGUAGES.length; i++) {
        let found = null;
        for (let j = 0; j < items.length; j++) {
            if (!matches(LANGUAGES[i], items[j].value)) {
                continue;
            }
            const specific = items[j].value === '*' ? 0 : 1;
            const quality = items[j].quality;
            if (!found || specific > found.specific
                || (specific === found.specific && quality > found.quality)) {
                found = {specific: specific, quality: quality};
            }
        }
        if (!found || found.quality <= 0 || found.quality < bestQuality) {
            continue;
        }
        if (found.quality > bestQuality || found.specific > bestSpecific) {
            result = LANGUAGES[i];
            bestQuality = found.quality;
            bestSpecific = found.specific;
        }
    }
    return result;
}

function wholeTag(lang, value) {
    return value === '*' || value.toLowerCase().replace(/_/g, '-') === lang;
}

function primaryTag(lang, value) {
    const primary = value.split(/[_-]/)[0];
    return primary === '*' || primary.toLowerCase() === lang;
}

// LanguageAccept.best_match: the whole tag first ("es-MX" is not "es"),
// then the client's primary subtags ("es-MX" counts as "es").
function bestMatch(header) {
    const items = acceptItems(header);
    return bestOf(items, wholeTag) || bestOf(items, primaryTag);
}

export default {visitorLanguage, rememberedLanguage};
