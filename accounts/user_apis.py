"""The signed-in user's own profile over the API."""

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


class MeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    timezone = serializers.CharField()


class MeApi(APIView):
    """The logged-in user (session or `Authorization: Token …`)."""

    serializer_class = MeOutputSerializer

    def get(self, request):
        return Response(MeOutputSerializer(request.user).data)
