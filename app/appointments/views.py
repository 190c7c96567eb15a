"""The appointment-request pages: the form, its POST, and "received"."""

import logging
import secrets
import threading
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import abort
from flask import current_app
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.wrappers import Response
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from ..errors import error_headers
from ..errors import render_error
from ..i18n import add_localized_rule
from . import choices
from . import delivery
from . import limits
from . import mailer
from .forms import AppointmentForm
from .outbox import OUTBOX_ERRORS

log = logging.getLogger(__name__)

bp = Blueprint("appointments", __name__)

FORM_PATHS = {"en": "/en/request-appointment", "es": "/es/solicitar-cita"}
RECEIVED_PATHS = {
    "en": "/en/request-appointment/received",
    "es": "/es/solicitar-cita/recibida",
}
_SESSION_REFERENCE = "appointment_reference"
# How the patient asked to be contacted ("call", "text", "email"): what the
# received page promises. Not personal data; no URL carries it.
_SESSION_CONTACT = "appointment_contact"
# Posted by the language toggle on the form: show the answers on the other
# language's form, neither checked nor stored.
_SWITCH_LANGUAGE_FIELD = "switch_language"
# Posted by a form shown again because its session cookie did not come back.
_SESSION_LOST_FIELD = "session_lost"
# Why the form came back with the answers (GOV.UK: never make someone type
# it all again). All but "expired" add the clinic's phone: sending again will
# not help soon, or at all.
NOTICES = {
    # An expired or missing CSRF token: the session ended while it was open.
    "expired": _l(
        "Your page was open for a long time, so for your security we could not"
        " send it. Please check your answers and send the form again."
    ),
    # Sent again, still without the session cookie: the browser blocks
    # cookies, and sending again would loop.
    "no_cookie": _l(
        "Your browser blocks cookies, so for your security we could not send this"
        " form. Please allow cookies for our site and send it again, or call us."
    ),
    # Over HTTPS Flask-WTF also wants a same-site Referer, which a browser set
    # never to send one cannot give by retrying.
    "no_referrer": _l(
        "Your browser did not tell us this form came from our website, so for your"
        " security we could not send it. Please allow your browser to send this"
        " information for our site, or call us."
    ),
    429: _l(
        "We received this form from your connection many times in a short time,"
        " so we could not take it now. Your answers are below: please wait a"
        " minute and send it again."
    ),
    # APPOINTMENT_TOTAL_LIMIT: everyone's requests together, not this person's.
    "everyone": _l(
        "We have received many requests in the last hour, so we could not take"
        " yours now. Your answers are below: please send it again later, or call"
        " us."
    ),
    503: _l(
        "Sorry, the website could not save your request, so it was not sent."
        " Your answers are below: please try again in a few minutes."
    ),
}


def init_app(app: Flask) -> None:
    """Route the pages, with their rate limits."""
    limits.init_app(app)
    app.register_blueprint(bp)


@bp.after_request
def _no_store(response: Response) -> Response:
    """No cache keeps a page of the form: each holds answers or a request's."""
    response.cache_control.no_store = True
    return response


def _new_form(**kwargs: Any) -> AppointmentForm:
    locations = current_app.extensions["content"].site.locations
    # Only a real form body: Flask-WTF would otherwise read a JSON body,
    # whose values need not be strings.
    formdata = request.form if request.method == "POST" else None
    return AppointmentForm(formdata=formdata, locations=locations, **kwargs)


def _form_page(form=None, notice=None, session_lost: bool = False) -> str:
    """The form page; without ``form``, with the answers as posted. ``notice``
    (a key of NOTICES) says why it came back."""
    text = NOTICES.get(notice)
    phone = current_app.extensions["content"].site.phone
    if text and notice != "expired" and phone:
        text = f"{text} " + _("You can also call us at %(phone)s.", phone=phone.display)
    return render_template(
        "appointments/form.html",
        form=form or _new_form(),
        notice=text,
        session_lost_field=_SESSION_LOST_FIELD if session_lost else None,
        switch_language_field=_SWITCH_LANGUAGE_FIELD,
    )


def form() -> Response | tuple[str, int] | str:
    """GET: the empty form. POST: validate, store durably, then 303."""
    # A new submission token each time the form is shown: see forms.py.
    token = secrets.token_urlsafe(16)
    form = _new_form(data={"language": g.lang_code, "submission": token})
    if _switching_language():
        # No errors the patient has not asked for: the form is not checked.
        return _form_page(form)
    if not form.validate_on_submit():
        return _form_page(form), 422 if form.is_submitted() else 200
    if (form.leave_blank.data or "").strip():
        # Only a script fills the hidden trap field (form.html keeps people
        # and autofill away from it).
        session.pop(_SESSION_REFERENCE, None)
        limits.count_trap_hit()
        log.warning("form: the hidden trap field was filled in; nothing stored")
    else:
        _take(form)
    session[_SESSION_CONTACT] = form.contact_method.data
    # The same answer whether a request was stored or a trap caught it, so a
    # script learns nothing.
    return redirect(url_for("appointments.received"), code=303)


def _switching_language() -> bool:
    """Whether this POST is the language toggle carrying the answers."""
    return request.method == "POST" and _SWITCH_LANGUAGE_FIELD in request.form


def _take(form: AppointmentForm) -> None:
    """Store the answers as the form parsed them, once (or 503); send a new
    request at once."""
    answers = form.answers()
    payload = {
        "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "page_language": g.lang_code,
        **answers,
    }
    try:
        stored = current_app.extensions["outbox"].add(
            payload,
            mail_domain=mailer.sender_domain(current_app.config),
            submission=form.submission_key(answers),
        )
    except OUTBOX_ERRORS as error:
        # Never a false "received": the patient gets the 503 page with our phone.
        log.error("outbox: could not store a request (%s)", type(error).__name__)
        abort(503)
    session[_SESSION_REFERENCE] = stored.reference
    if not stored.is_new:
        # The same form posted again: its first request stands, counted once.
        log.info("outbox: request %s posted again; not stored twice", stored.reference)
        return
    log.info("outbox: request %s stored", stored.reference)
    limits.mark_accepted()
    # Try at once, on a thread of its own: the patient's answer never waits
    # for the relay, and a slow relay never holds a web worker. One thread more
    # per request (and, while the relay talks, delivery's LeaseKeeper renewing
    # the lease). Not call_on_close: Werkzeug's server runs it only after
    # draining the client's socket (a browser can hold it open), and it would
    # hold a sync worker. A failure leaves the request for `flask outbox deliver`.
    threading.Thread(
        target=_deliver_quietly,
        args=(current_app._get_current_object(), stored.id),
        daemon=True,
    ).start()


def _deliver_quietly(app: Flask, request_id: int) -> None:
    try:
        delivery.deliver_one(app, request_id)
    except Exception:  # the request stays queued for `flask outbox deliver`
        log.exception("outbox: immediate delivery raised; left queued")


def received() -> Response | str:
    """After a POST: the reference and what happens next, in the terms of the
    contact method chosen; no personal data. With no request sent from this
    browser there is nothing to confirm, so the form."""
    contact = session.get(_SESSION_CONTACT)
    if contact not in choices.CONTACT_METHODS:
        return redirect(url_for("appointments.form"), code=303)
    return render_template(
        "appointments/received.html",
        reference=session.get(_SESSION_REFERENCE),
        contact_method=contact,
        promises=choices.PROMISES,
    )


def _form_again(error: HTTPException):
    """A POST the form could not take (an expired or missing CSRF token, 429,
    503): the form again, with the answers as sent and a notice that says
    why. On the blueprint: only the form takes a POST."""
    if request.method != "POST":
        return render_error(error)
    try:
        request.form  # noqa: B018 (a flood may send a body that cannot be read)
    except HTTPException:
        return render_error(error)
    session_lost = False
    if not isinstance(error, CSRFError):
        notice = "everyone" if limits.is_everyone_limited(error) else error.code
    elif _switching_language():
        # Nothing is stored, so nothing to protect: the answers, unchecked.
        return _form_page()
    else:
        # No session came back. Once, that is a session that ended while the
        # page was open; again, on the page sent with a new one, the browser
        # refuses cookies.
        session_lost = current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
        if session_lost and request.form.get(_SESSION_LOST_FIELD):
            notice = "no_cookie"
        elif not session_lost and _token_is_valid():
            # The token is good: what failed is HTTPS's same-site Referer check.
            notice = "no_referrer"
        else:
            notice = "expired"
    page = _form_page(notice=notice, session_lost=session_lost)
    return page, error.code, error_headers(error.code)


def _token_is_valid() -> bool:
    """Whether the page's CSRF token itself passes Flask-WTF's check."""
    try:
        validate_csrf(request.form.get(current_app.config["WTF_CSRF_FIELD_NAME"]))
    except ValidationError:
        return False
    return True


add_localized_rule(bp, FORM_PATHS, "form", form, methods=["GET", "POST"])
limits.limit_posts(bp)
add_localized_rule(bp, RECEIVED_PATHS, "received", received)
bp.register_error_handler(CSRFError, _form_again)
bp.register_error_handler(429, _form_again)
bp.register_error_handler(503, _form_again)
