-- make bench: a valid form POST, again and again, as wrk's request script.
--
-- Each wrk thread first GETs the form to learn a CSRF token and the session
-- cookie, then POSTs the given fields with that token (Flask-WTF tokens stay
-- valid for hours, so one per thread is enough).
--
-- wrk -s tools/bench_post.lua http://HOST:PORT -- /en/request-appointment 'a=1&b=2'

local path, fields, lang_cookie
local token, cookie

function init(args)
  path = args[1]
  fields = args[2]
  -- Send the page's own language, so the only cookie set is the session's
  -- (wrk keeps one value per header name).
  lang_cookie = "lang=" .. path:match("^/(%a+)/")
end

function request()
  if not token then
    return wrk.format("GET", path, { ["Cookie"] = lang_cookie })
  end
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = cookie,
  }, fields .. "&csrf_token=" .. token)
end

function response(status, headers, body)
  if token then
    return
  end
  local found = body:match('name="csrf_token"[^>]-value="([^"]+)"')
  local session = headers["Set-Cookie"]
  if not (found and session) then
    -- Measuring GETs under the POST's name would be worse than no figure.
    io.stderr:write("bench_post.lua: no CSRF token and session cookie in "
      .. path .. " (status " .. status .. ")\n")
    os.exit(1)
  end
  token = found
  cookie = lang_cookie .. "; " .. session:match("^([^;]+)")
end
