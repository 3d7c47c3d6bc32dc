from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from inbox.sources.email.webhooks import guarded_urlpatterns
from inbox.web import views as web
from inbox.web import widget_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="web:home", permanent=False)),
    path("", include(("inbox.web.urls", "web"))),
    path("accounts/", include("accounts.urls")),
    path("settings/", include("inbox.web.settings_urls")),
    path("api/v1/", include(("accounts.api.urls", "api"))),
    path("api/v1/", include(("inbox.api.urls", "inbox-api"))),
    path("sources/api/", include(("inbox.sources.api.urls", "api-source"))),
    path("widget/v1/", include(("inbox.sources.widget.urls", "widget"))),
    path("sources/telegram/", include(("inbox.sources.telegram.urls", "telegram"))),
    path("sources/whatsapp/", include(("inbox.sources.whatsapp.urls", "whatsapp"))),
    path("sources/messenger/", include(("inbox.sources.messenger.urls", "messenger"))),
    path("sources/instagram/", include(("inbox.sources.instagram.urls", "instagram"))),
    path("sources/sms/", include(("inbox.sources.sms.urls", "sms"))),
    path("webhooks/email/", include((guarded_urlpatterns(), "anymail"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("django-admin/", admin.site.urls),
    path("healthz", web.healthz, name="healthz"),
]

if settings.EMBEDDED_DATABASE or settings.DEBUG:
    # Uploaded files (avatars) in the embedded shape; at scale a CDN or the proxy serves them.
    urlpatterns.append(path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}))
    # A stand-in customer website with the first website chat on it (docs/sources/widget.md).
    urlpatterns.append(path("widget/demo/", widget_views.widget_demo, name="widget-demo"))
